"""``python -m jobs.local.guard COMMAND...``: a trial's command, run so that nothing it starts outlives it.

The guard leads the trial's process group (the launcher starts it in a new session) and runs the command
as its child. When the sweep's orchestrator dies, even by ``kill -9``, Linux sends the guard SIGTERM
(PR_SET_PDEATHSIG), and the guard ends the whole group: the trainer and any child it started, including
one that ignores SIGTERM. Otherwise it only waits and passes on the command's exit status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from jobs.local.process import die_with_parent, exit_status


def _end_group(signum, frame) -> None:
    os.killpg(0, signal.SIGKILL)  # this process's group: the guard goes with it


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _end_group)
    die_with_parent(signal.SIGTERM)
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 127
    return exit_status(child.wait())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
