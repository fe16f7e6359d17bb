"""How values read in the terminal, Markdown and HTML reports (trials.csv keeps them exact)."""

from __future__ import annotations

import math

from jobs.trial.record import TrialState

S = TrialState
STATE_LABELS = {S.ACTIVE: "running"}  # what a reader calls a state, where the word differs
STATE_ORDER = (S.SUCCEEDED, S.STOPPED, S.FAILED, S.INFEASIBLE, S.STOPPING, S.ACTIVE, S.REQUESTED)


def number(value: object) -> str:
    """4 significant digits for floats, integral floats as integers (Vertex sends 64 as 64.0),
    a dash for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.4g}"
    if hasattr(value, "item"):  # numpy scalars
        return number(value.item())
    return str(value)


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {secs:02d}s"


def state(name: str) -> str:
    return STATE_LABELS.get(name, name.lower())


def state_counts(states: list[str]) -> list[tuple[str, int]]:
    """(state, count) for the states present, in a fixed reading order."""
    present = {s: states.count(s) for s in dict.fromkeys(states)}
    ordered = [s for s in STATE_ORDER if s in present] + [s for s in present if s not in STATE_ORDER]
    return [(s, present[s]) for s in ordered]


def counts_line(states: list[str]) -> str:
    """``12 trials: 10 succeeded, 1 failed, 1 running``."""
    parts = ", ".join(f"{n} {state(s)}" for s, n in state_counts(states))
    return f"{len(states)} trials: {parts}" if states else "no trials yet"
