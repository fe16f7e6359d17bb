"""`invoke tune --backend vertex` as a process of its own, pointed at a stand-in, so that a test can kill it:

    python -m tests.support.vertex_follower STAND_IN_URL '{"spec": ..., "outputs": ..., "runs_dir": ..., ...}'

The JSON holds TuneRequest's fields; the process submits (or re-attaches) and follows the job as the task does.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from jobs.vertex.backend import VertexBackend
from tests.support.sweeps import tune_with
from tests.support.vertex import settings_for


class _At:
    """What settings_for reads of a stand-in: its address."""

    def __init__(self, url: str):
        self.url = url


if __name__ == "__main__":
    url, fields = sys.argv[1], json.loads(sys.argv[2])
    fields["runs_dir"] = Path(fields["runs_dir"])
    # The stand-in ends a cancelled job's trials within a poll: no reserve for the cancel is needed.
    settings = dataclasses.replace(settings_for(_At(url)), cancel_s=0.0)
    sys.exit(tune_with(VertexBackend(settings), **fields))
