"""The HTTP server under each local stand-in of a Google API (Vertex AI's JobService, Cloud Build): a thread serving
JSON on a free port of 127.0.0.1, started and stopped with ``with``. Each GET and POST goes to the stand-in's
``handle(method, path, body)``, which answers ``(status, payload)``, or None to drop the connection unanswered."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up on a stalled answer: nothing to report


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _answer(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = self.server.standin.handle(method, self.path, body)
        if answer is None:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, payload = answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class StandInServer:
    """A stand-in's serving: call ``_listen()`` in ``__init__``; ``url`` is where clients point."""

    def _listen(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
