"""A fork server for trials of the reference trainer: one process imports torch and the trainer
once, then forks a child per trial, so a trial starts in milliseconds instead of seconds.

Protocol, one line each way: the orchestrator writes ``{"args": [...], "env": {...}, "log": path}``
and reads ``pid <pid>``; when a child ends the server writes ``exit <pid> <status>`` (128 + N for a
child killed by signal N). Each child leads its own process group. When its stdin closes or its parent
dies (even by kill -9, through PR_SET_PDEATHSIG), the server ends every child's group, and so whatever the
trials started, then exits: no trial outlives its sweep.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from jobs.local.groups import die_with_parent, end_group, exit_status


def _run_child(request: dict) -> None:
    os.setpgid(0, 0)  # its own process group: ending the trial ends whatever it started
    die_with_parent()
    import torch

    import trainer.cli

    os.environ.update(request["env"])
    if request["env"].get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(request["env"]["OMP_NUM_THREADS"]))
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        code = trainer.cli.main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    """The server's loop (``python -m jobs.local.forkserver``)."""
    children: set[int] = set()

    def end_all(*_) -> None:
        for pid in children:
            end_group(pid)
        os._exit(0)

    signal.signal(signal.SIGTERM, end_all)
    die_with_parent(signal.SIGTERM)
    import jobs.local.warm  # noqa: F401  (the expensive imports, once)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    requests = sys.stdin.buffer
    out = sys.stdout
    while True:
        readable, _, _ = select.select([requests, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
        while True:  # reap every child that ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            out.write(f"exit {pid} {exit_status(os.waitstatus_to_exitcode(status))}\n")
        if requests in readable:
            line = requests.readline()
            if not line:
                end_all()
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                _run_child(request)
            children.add(pid)
            out.write(f"pid {pid}\n")
        out.flush()


class ForkServer:
    """The orchestrator's side: start the server, ask for trials, collect their exit statuses."""

    def __init__(self) -> None:
        # Its own session: a Ctrl-C in the terminal reaches the orchestrator alone, which stops the trials.
        self._process = subprocess.Popen([sys.executable, "-m", "jobs.local.forkserver"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, preexec_fn=die_with_parent, start_new_session=True)
        self.fd = self._process.stdout.fileno()  # readable when the server has news
        self._buffer = b""
        self.exited: dict[int, int] = {}

    def _lines(self) -> list[str]:
        data = os.read(self.fd, 65536)
        if not data:
            raise RuntimeError("the trial fork server stopped; see the sweep's output for its error")
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line.decode() for line in lines]

    def _handle(self, lines: list[str]) -> int | None:
        pid = None
        for line in lines:
            kind, *rest = line.split()
            if kind == "exit":
                self.exited[int(rest[0])] = int(rest[1])
            else:
                pid = int(rest[0])
        return pid

    def start(self, args: list[str], env: dict[str, str], log_path: Path) -> int:
        """Fork a trial running ``trainer.cli.main(args)``; returns its pid."""
        self._process.stdin.write((json.dumps({"args": args, "env": env, "log": str(log_path)}) + "\n").encode())
        self._process.stdin.flush()
        while True:
            pid = self._handle(self._lines())
            if pid is not None:
                return pid

    def collect(self, timeout: float = 0) -> None:
        """Take the exit statuses the server has sent, waiting up to ``timeout`` for the first."""
        while select.select([self.fd], [], [], timeout)[0]:
            self._handle(self._lines())
            timeout = 0

    def close(self) -> None:
        """Stop the server at once: SIGTERM makes it end every child's group and leave without the orderly exit
        of an interpreter with torch loaded (~0.8 s)."""
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdin.close()
        self._process.stdout.close()


if __name__ == "__main__":
    serve()
