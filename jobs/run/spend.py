"""What one sweep was and cost, whichever backend ran it: the line the team view (jobs/report/teams.py) and the
fleet view (infra/fleet.py) add up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SweepCost:
    """One sweep: who ran it where, when, how many trials it has and what they cost at list prices (None: not
    known here, e.g. a Vertex AI run seen only in runs/ without credentials to read its job)."""

    run_id: str
    backend: str
    team: str  # "" for a run that names no team (a local run)
    project: str  # the Google Cloud project; "" for a local run
    spec: str
    created: dt.datetime  # timezone-aware
    trials: int | None = None
    cost: float | None = None
    currency: str = ""


def aware(moment: dt.datetime) -> dt.datetime:
    """``moment`` with a timezone: a naive one (run.json's ``created``) is this machine's local time."""
    return moment if moment.tzinfo else moment.astimezone()
