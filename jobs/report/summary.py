"""What every report format says about a run, computed once: the winner, the runners-up, the
importances, the warnings, the table rows as text."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from jobs.report.collect import CollectedRun
from jobs.report.importance import param_importances
from jobs.report.text import counts_line, duration, number, state
from jobs.trial.record import PREEMPTED, TrialState, ties

TOP = 10  # rows of the top-trials table


@dataclass(frozen=True)
class Summary:
    sweep: CollectedRun
    best: pd.Series | None
    importances: dict[str, float]
    importance_note: str
    warnings: list[str]

    @property
    def title(self) -> str:
        """Spec and run, and what the trials cost when that is past the run's ceiling."""
        sweep, title = self.sweep, f"{self.sweep.spec.name} · run {self.sweep.run_id}"
        if sweep.cost is not None and sweep.max_cost is not None and sweep.cost > sweep.max_cost:
            title += (f" — cost {number(sweep.cost)} {sweep.currency}, past the {number(sweep.max_cost)} "
                      f"{sweep.currency} ceiling")
        return title

    @property
    def subtitle(self) -> str:
        spec = self.sweep.spec
        cost = "" if self.sweep.cost is None else f" · trials cost {number(self.sweep.cost)} {self.sweep.currency}"
        return (f"{spec.metric.goal} {spec.metric.id} · {spec.algorithm} search · {spec.measurement} report · "
                f"early stopping {spec.early_stopping} · {counts_line(self.sweep.frame['state'].tolist())}{cost}")

    def best_parameters(self) -> list[tuple[str, str, str]]:
        """(parameter, best value, the spec's range) in spec order, parameters the best trial lacks left out."""
        rows = []
        for pid, p in self.sweep.spec.parameters.items():
            value = self.best[pid]
            if value is None or pd.isna(value):
                continue
            span = (f"{number(p.min)} … {number(p.max)}" if p.type in ("double", "integer")
                    else " · ".join(map(number, p.values)))
            scale = getattr(p, "scale", "linear")
            rows.append((pid, number(value), span + ("" if scale == "linear" else f" ({scale})")))
        return rows

    def runners_up(self, count: int = 3) -> list[tuple[str, str]]:
        """(trial id, objective) of the next best trials."""
        ranked = self.sweep.ranked().iloc[1:count + 1]
        return [(t, number(v)) for t, v in zip(ranked["trial_id"], ranked["objective"])]

    def tied(self) -> int:
        """How many other succeeded trials reached exactly the best objective."""
        return ties(self.sweep.records, self.sweep.goal)

    def top_table(self) -> tuple[list[str], list[list[str]]]:
        """Header and text rows of the best trials: rank, trial, objective, parameters, duration (and cost)."""
        parameters = list(self.sweep.spec.parameters)
        priced = self.sweep.cost is not None
        header = ["#", "trial", self.sweep.spec.metric.id, *parameters, "duration", *(["cost"] if priced else [])]
        ranked = self.sweep.ranked().head(TOP)
        rows = [[str(i), r["trial_id"], number(r["objective"]), *(number(r[p]) for p in parameters),
                 duration(r["duration_s"]), *([number(r["cost"])] if priced else [])]
                for i, (_, r) in enumerate(ranked.iterrows(), 1)]
        return header, rows

    def failures(self) -> list[list[str]]:
        """[trial, state, why] of every trial with an error, for a table read without scrolling sideways."""
        frame = self.sweep.frame
        failed = frame[frame["error"].fillna("").str.len() > 0]
        return [[r["trial_id"], state(r["state"]), r["error"]] for _, r in failed.iterrows()]

    def full_table(self) -> tuple[list[str], list[list[str]]]:
        """Every column of the contract frame as text, trial id order (states as a reader says them)."""
        frame = self.sweep.frame
        rows = [[state(v) if c == "state" else duration(v) if c == "duration_s" else number(v)
                 for c, v in row.items()] for _, row in frame.iterrows()]
        return list(frame.columns), rows


def summarize(sweep: CollectedRun) -> Summary:
    """The winner, the importances and what the reader should be warned about."""
    importances, note = param_importances(sweep.spec, sweep.ranked())
    return Summary(sweep, sweep.best(), importances, note, _warnings(sweep))


def _warnings(sweep: CollectedRun) -> list[str]:
    frame, notes = sweep.frame, []
    if sweep.unfinished:
        notes.append(f"the sweep is still running: {sweep.unfinished} trial(s) not finished; this report shows "
                     "what has finished so far")
    if sweep.best() is None:
        notes.append("no trial succeeded yet" if sweep.unfinished else "no trial succeeded")
    broken = frame[frame["error"].str.contains("metrics.json", regex=False)]
    unexpected = broken[broken["state"] == TrialState.SUCCEEDED]
    if len(unexpected):
        notes.append(f"{len(unexpected)} succeeded trial(s) have no usable metrics.json: "
                     + ", ".join(f"trial {t}" for t in unexpected["trial_id"].head(10))
                     + (" …" if len(unexpected) > 10 else "") + " (see the error column)")
    preempted = frame[frame["error"].str.startswith(PREEMPTED)]["trial_id"].tolist()
    if preempted:
        notes.append(f"{len(preempted)} preempted Spot trial(s) failed once Vertex AI's restarts were used up: "
                     + ", ".join(f"trial {t}" for t in preempted[:10]) + (" …" if len(preempted) > 10 else ""))
    return notes
