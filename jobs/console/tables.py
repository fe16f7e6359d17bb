"""The tables a user reads: what a sweep will search (printed before it runs, and on ``--dry-run``), and a run's
trials (the live progress, status, the end of a sweep)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from jobs.console.text import params_text
from jobs.spec import Spec
from jobs.trial.record import TrialRecord, best_trial


def plan_table(spec: Spec) -> Table:
    """The spec's search: algorithm, metric, early stopping, and each parameter's range and condition."""
    table = Table(title=f"{spec.name}: {spec.algorithm} search, {spec.metric.goal} {spec.metric.id} "
                        f"({spec.measurement} report), early stopping {spec.early_stopping}", title_justify="left")
    for column in ("parameter", "type", "range or values", "scale", "when"):
        table.add_column(column)
    for pid, p in spec.parameters.items():
        span = f"{p.min:g} .. {p.max:g}" if p.type in ("double", "integer") else ", ".join(map(str, p.values))
        when = ", ".join(f"{k} in {v}" for k, v in (p.when or {}).items())
        table.add_row(pid, p.type, span, getattr(p, "scale", ""), when)
    return table


def trials_table(title: str, trials: list[TrialRecord], goal: str | None = None, caption: str | None = None) -> Table:
    """``trials`` as a table, in the order given (the best one by ``goal``, when given, in bold green); a failed
    or stopped trial's note says why."""
    best = best_trial(trials, goal) if goal else None
    table = Table(title=title, title_justify="left", expand=False, caption=caption, caption_justify="left")
    for column in ("trial", "state", "value", "step", "duration", "parameters", "note"):
        table.add_column(column, justify="right" if column in ("trial", "value", "step", "duration") else "left",
                         overflow="fold")
    for t in trials:
        style = "bold green" if best is not None and t.trial_id == best.trial_id else None
        table.add_row(t.trial_id, t.state, "-" if t.objective is None else f"{t.objective:.4g}",
                      "-" if t.step is None else str(t.step),
                      "-" if t.duration_s is None else f"{t.duration_s:.0f} s", params_text(t.parameters),
                      Text(t.reason[:160]), style=style)
    return table
