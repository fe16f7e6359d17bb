"""Starting and stopping trial processes: forked warm for the reference trainer, spawned otherwise."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

PR_SET_PDEATHSIG = 1
PYTHONS = {"python", "python3", sys.executable, os.path.basename(sys.executable)}


class TrialProcess(Protocol):
    pid: int | None
    sentinel: int  # a descriptor that becomes readable when the process ends

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def close(self) -> None: ...


def is_reference_trainer(argv: list[str]) -> bool:
    """``python -m trainer ...``: the trainer this package ships, which can start warm."""
    return len(argv) >= 3 and argv[0] in PYTHONS and argv[1:3] == ["-m", "trainer"]


class _Forked:
    def __init__(self, process: multiprocessing.Process):
        self._process = process
        self.pid = process.pid
        self.sentinel = process.sentinel

    def poll(self) -> int | None:
        code = self._process.exitcode
        if code is None:
            return None
        return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()
        self._process.join(timeout=5)

    def close(self) -> None:
        self._process.close()


class _Spawned:
    def __init__(self, popen: subprocess.Popen):
        self._popen = popen
        self.pid = popen.pid
        self.sentinel = os.pidfd_open(popen.pid)  # readable once the process exits

    def poll(self) -> int | None:
        code = self._popen.poll()
        if code is None:
            return None
        return code if code >= 0 else 128 - code

    def kill(self) -> None:
        try:
            os.killpg(self._popen.pid, signal.SIGKILL)  # the trainer and anything it started
        except ProcessLookupError:
            pass
        self._popen.wait(timeout=5)

    def close(self) -> None:
        os.close(self.sentinel)


class Launcher:
    """Starts trial processes; ``warm`` forks the reference trainer from a preloaded server."""

    def __init__(self, warm: bool = True):
        self._warm = warm
        self._context = None

    def _forkserver(self):
        if self._context is None:
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload(["jobs.local.warm"])
        return self._context

    def prestart(self) -> None:
        """Start the forkserver now, so its imports overlap the orchestrator's own start-up."""
        if self._warm:
            from multiprocessing import forkserver

            self._forkserver()
            forkserver.ensure_running()

    def start(self, argv: list[str], env: dict[str, str], log_path: Path) -> TrialProcess:
        if self._warm and is_reference_trainer(argv):
            process = self._forkserver().Process(target=run_forked_trainer, args=(argv[3:], env, str(log_path)),
                                                 daemon=False)
            process.start()
            return _Forked(process)
        log = open(log_path, "ab")
        try:
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **env}, start_new_session=True,
                                     preexec_fn=die_with_parent)
        except OSError as exc:
            log.write(f"cannot start {argv[0]}: {exc}\n".encode())
            raise
        finally:
            log.close()
        return _Spawned(popen)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies, so no trial outlives the sweep."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def run_forked_trainer(args: list[str], env: dict[str, str], log_path: str) -> None:
    """Body of a forked trial: its environment, output to its log, then ``trainer.cli.main``."""
    die_with_parent()
    os.environ.update(env)
    import torch  # already imported by the forkserver's preload (jobs.local.warm)

    import trainer.cli

    if env.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        code = trainer.cli.main(args)
    except SystemExit as exc:  # --help and friends
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
