"""Google's end dates for what a Vertex AI trial runs on (a prebuilt image's end of availability, a GPU's end of
support), compared with today: from the first day it can no longer be used a sweep is refused; within
``WARN_DAYS`` before that day it runs, with a warning."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

WARN_DAYS = 90


@dataclass(frozen=True)
class Notice:
    """An end reached (``refused``: ``text`` says why and what to do instead) or near (a warning)."""

    refused: bool
    text: str


def phase(gone: dt.date, today: dt.date) -> Literal["gone", "ending"] | None:
    """``gone`` on and after ``gone`` (the first day it cannot be used), ``ending`` within WARN_DAYS before it."""
    if today >= gone:
        return "gone"
    return "ending" if (gone - today).days <= WARN_DAYS else None
