"""Starting and stopping trial processes: forked warm for the reference trainer, spawned otherwise."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

from jobs.local.groups import end_group, exit_status
from jobs.trial.command import is_reference_trainer


class TrialProcess(Protocol):
    pid: int
    sentinel: int  # a descriptor that becomes readable when the process (or a sibling) ends

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...  # SIGTERM to the trainer: it may save its work and exit
    def kill(self) -> None: ...
    def close(self) -> None: ...


class _Forked:
    def __init__(self, server, pid: int):
        self._server = server
        self.pid = pid
        self.sentinel = server.fd

    def poll(self) -> int | None:
        self._server.collect()
        code = self._server.exited.get(self.pid)
        if code is not None:
            end_group(self.pid)
        return code

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)  # the forked trainer itself

    def kill(self) -> None:
        end_group(self.pid)
        deadline = time.monotonic() + 10
        while self.pid not in self._server.exited and time.monotonic() < deadline:
            self._server.collect(timeout=0.1)

    def close(self) -> None:
        self._server.exited.pop(self.pid, None)


class _Spawned:
    def __init__(self, popen: subprocess.Popen):
        self._popen = popen
        self.pid = popen.pid
        self.sentinel = os.pidfd_open(popen.pid)  # readable once the process exits

    def poll(self) -> int | None:
        code = self._popen.poll()
        if code is None:
            return None
        end_group(self._popen.pid)
        return exit_status(code)

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._popen.pid, signal.SIGTERM)  # the guard passes it on to the trainer

    def kill(self) -> None:
        end_group(self._popen.pid)
        self._popen.wait(timeout=10)

    def close(self) -> None:
        os.close(self.sentinel)


class Launcher:
    """Starts trial processes; with ``warm``, the reference trainer forks from a preloaded server."""

    def __init__(self, warm: bool = True):
        self._warm = warm
        self._server = None

    def prestart(self) -> None:
        """Start the fork server now, so its imports overlap the orchestrator's own start-up."""
        if self._warm and self._server is None:
            from jobs.local.forkserver import ForkServer

            self._server = ForkServer()

    def start(self, argv: list[str], env: dict[str, str], log_path: Path) -> TrialProcess:
        if self._warm and is_reference_trainer(argv):
            self.prestart()
            return _Forked(self._server, self._server.start(argv[3:], env, log_path))
        if argv[0] in ("python", "python3"):
            argv = [sys.executable, *argv[1:]]  # "python" in a spec means this environment's interpreter
        if shutil.which(argv[0]) is None:
            raise FileNotFoundError(errno.ENOENT, "no such command", argv[0])
        with open(log_path, "ab") as log:  # the guard leads the trial's group and ends it if the sweep dies
            popen = subprocess.Popen([sys.executable, "-m", "jobs.local.guard", *argv], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, **env},
                                     start_new_session=True)
        return _Spawned(popen)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
