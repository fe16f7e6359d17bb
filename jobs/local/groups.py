"""A trial's process group: a process that dies with its parent, a group ended whole, an exit status as a shell
says it. Shared by the launcher (process.py), the warm server (forkserver.py) and the guard (guard.py)."""

from __future__ import annotations

import contextlib
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Ask Linux to send this process ``signum`` (SIGKILL unless it has a handler to run) when its parent
    dies, so no trial outlives the sweep."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to ask
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def exit_status(code: int) -> int:
    """A returncode as a shell reports it: 128 + N for a process killed by signal N."""
    return code if code >= 0 else 128 - code


def end_group(pgid: int) -> None:
    """SIGKILL the trial's process group: the trial and anything it started, even what ignores SIGTERM or
    outlived the trial's own exit."""
    for kill in (os.killpg, os.kill):  # os.kill: a child forked a moment ago may not lead its group yet
        try:
            kill(pgid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue
