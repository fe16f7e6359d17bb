"""``python -m jobs.local.guard COMMAND...``: a trial's command, run so that nothing it starts outlives it.

The guard leads the trial's process group (the launcher starts it in a new session) and runs the command
as its child. On SIGTERM (the orchestrator stopping the trial, or Linux when the orchestrator dies, even by
``kill -9``, through PR_SET_PDEATHSIG) it passes SIGTERM on to the trainer, so that it can save its work, and
ends the whole group when the trainer exits or STOP_GRACE_S later, whichever comes first: the trainer and any child
it started, including one that ignores SIGTERM. Otherwise it only waits and passes on the exit status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from jobs.local.groups import die_with_parent, exit_status
from jobs.trial.environment import STOP_GRACE_S


def _end_group(*_) -> None:
    os.killpg(0, signal.SIGKILL)  # this process's group: the guard goes with it


def main(argv: list[str]) -> int:
    child: subprocess.Popen | None = None
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True
        if child is None:
            _end_group()
            return
        child.send_signal(signal.SIGTERM)
        signal.signal(signal.SIGALRM, _end_group)
        signal.alarm(STOP_GRACE_S)

    signal.signal(signal.SIGTERM, stop)
    die_with_parent(signal.SIGTERM)
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 127
    code = exit_status(child.wait())
    if stopping:  # whatever the trainer started goes with it
        sys.stdout.flush()
        _end_group()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
