"""Several runs side by side: each run's best trial in one table, one column per run."""

from __future__ import annotations

import hashlib

import pandas as pd

from jobs.report.summary import Summary
from jobs.report.text import counts_line, duration, number

NAME_LIMIT = 100  # characters of a comparison's folder name: readable, and well inside a file name's 255 bytes


def folder_name(run_ids: list[str]) -> str:
    """``compare-<a>-vs-<b>``; when that passes NAME_LIMIT characters, ``compare-<a>-and-<n>-more-<hash>``, the
    hash (of every run id, in order) telling comparisons of different runs apart."""
    name = "compare-" + "-vs-".join(run_ids)
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256("\n".join(run_ids).encode()).hexdigest()[:12]
    return f"compare-{run_ids[0]}-and-{len(run_ids) - 1}-more-{digest}"


def side_by_side(summaries: list[Summary]) -> tuple[list[str], list[list[str]]]:
    """Header (``""`` then run ids) and text rows: what ran, the best trial and its value, then each
    parameter (the union of the runs', first seen first) as ``value · importance``."""
    header = ["", *(s.sweep.run_id for s in summaries)]
    parameters = list(dict.fromkeys(p for s in summaries for p in s.sweep.spec.parameters))

    def row(label: str, cell) -> list[str]:
        return [label, *(cell(s) for s in summaries)]

    def best(s: Summary, column: str, show=number) -> str:
        return "–" if s.best is None else show(s.best[column])

    def parameter(s: Summary, pid: str) -> str:
        if pid not in s.sweep.spec.parameters:
            return ""
        weight = s.importances.get(pid)
        return best(s, pid) + ("" if weight is None else f" · {weight:.0%}")

    return header, [
        row("spec", lambda s: s.sweep.spec.name),
        row("goal", lambda s: f"{s.sweep.spec.metric.goal} {s.sweep.spec.metric.id}"),
        row("search", lambda s: f"{s.sweep.spec.algorithm}, early stopping {s.sweep.spec.early_stopping}"),
        row("trials", lambda s: counts_line(s.sweep.frame["state"].tolist())),
        row("best trial", lambda s: best(s, "trial_id", str)),
        row("objective", lambda s: best(s, "objective")),
        *(row(pid, lambda s, pid=pid: parameter(s, pid)) for pid in parameters),
        row("duration", lambda s: best(s, "duration_s", duration)),
    ]


def best_trials_frame(summaries: list[Summary]) -> pd.DataFrame:
    """One row per run with a succeeded trial: ``run_id`` then the best trial's contract columns."""
    rows = [{"run_id": s.sweep.run_id, **s.best.to_dict()} for s in summaries if s.best is not None]
    return pd.DataFrame(rows)


def leader(summaries: list[Summary]) -> str:
    """``best: <run>, trial <id>, <metric> <value>`` when the runs share a metric and goal, else ``""``."""
    goals = {(s.sweep.spec.metric.id, s.sweep.goal) for s in summaries}
    done = [s for s in summaries if s.best is not None]
    if len(goals) != 1 or not done:
        return ""
    [(metric, goal)] = goals
    pick = max if goal == "maximize" else min
    top = pick(done, key=lambda s: s.best["objective"])
    return f"best: {top.sweep.run_id}, trial {top.best['trial_id']}, {metric} {number(top.best['objective'])}"
