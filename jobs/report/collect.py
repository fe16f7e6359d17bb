"""Trial records plus each trial's metrics.json, read concurrently, as one pandas DataFrame.

The frame's columns, in order (the report contract): ``trial_id``, ``state``, ``objective``, one
column per parameter (spec order), the metrics.json keys (first seen first; a parameter or a column
above wins a name clash), ``duration_s``, ``cost`` (only for runs that know their price per trial-hour:
Vertex AI's, at list prices), ``artifact_dir``, ``error``. A trial whose metrics.json is
missing or corrupt keeps its row; ``error`` says why, after the trial's own failure reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd

from jobs.cloud import storage
from jobs.cloud.cost import trial_cost
from jobs.spec import Spec
from jobs.trial.artifacts import HISTORY_FILE, METRICS_FILE, parse_metrics
from jobs.trial.record import UNFINISHED, TrialRecord, TrialState, ranked, trial_order

HEAD = ["trial_id", "state", "objective"]
TAIL = ["duration_s", "artifact_dir", "error"]
CURVES = 5  # top trials whose learning curves are read


@dataclass
class CollectedRun:
    """One run, collected: its spec, records (for start times and steps), the contract frame, and
    the eval_history.csv of its top trials by trial id."""

    run_id: str
    spec: Spec
    records: list[TrialRecord]
    frame: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    currency: str = ""  # of the frame's cost column, when it has one
    max_cost: float | None = None  # the run's ceiling (trials.max_cost), as its run.json records it

    @property
    def cost(self) -> float | None:
        """What the trials cost at list prices (their hours x the run's hourly price); None when not known."""
        return float(self.frame["cost"].sum()) if "cost" in self.frame else None

    @property
    def goal(self) -> str:
        return self.spec.metric.goal

    def ranked(self) -> pd.DataFrame:
        """Rows of the succeeded trials with an objective, best first (jobs.trial.record.ranked: ties in id order)."""
        order = [r.trial_id for r in ranked(self.records, self.goal)]
        return self.frame.set_index("trial_id", drop=False).loc[order].reset_index(drop=True)

    def best(self) -> pd.Series | None:
        """The best succeeded trial by the spec's goal, never by position; None when none succeeded."""
        ranked = self.ranked()
        return None if ranked.empty else ranked.iloc[0]

    @property
    def unfinished(self) -> int:
        return int(self.frame["state"].isin(UNFINISHED).sum())

    def timeline(self) -> pd.DataFrame:
        """Finished trials in start order (``position`` 1, 2, ...) with ``step`` (the last step
        reported), ``best_so_far`` (the best succeeded objective up to each trial) and ``stopped_early``:
        STOPPED by the local pruner, or SUCCEEDED on Vertex AI after its early stopping sent SIGTERM (the
        reference trainer records ``stopped_by`` in metrics.json; Vertex AI keeps no such flag)."""
        starts = pd.DataFrame({"trial_id": [r.trial_id for r in self.records],
                               "started": [r.started for r in self.records],
                               "step": [r.step for r in self.records]}, columns=["trial_id", "started", "step"])
        frame = self.frame.assign(stopped_early=(self.frame["state"] == TrialState.STOPPED) | (
            self.frame["stopped_by"] == "SIGTERM" if "stopped_by" in self.frame else False))
        line = frame[["trial_id", "state", "objective", "stopped_early"]].merge(starts, on="trial_id")
        line = line[~line["state"].isin(UNFINISHED)].sort_values("started", kind="stable").reset_index(drop=True)
        ok = line["objective"].where(line["state"] == TrialState.SUCCEEDED)
        line["best_so_far"] = (ok.cummax() if self.goal == "maximize" else ok.cummin()).ffill()
        line.insert(0, "position", range(1, len(line) + 1))
        return line


def collect(run_id: str, spec: Spec, records: list[TrialRecord], workers: int = storage.WORKERS,
            hourly_cost: float | None = None, currency: str = "", max_cost: float | None = None) -> CollectedRun:
    """Fetch every finished trial's metrics.json, build the frame (with each trial's cost when
    ``hourly_cost`` is known; ``max_cost``: the run's ceiling), then read the top trials' curves."""
    frame = trials_frame(records, spec, workers)
    if hourly_cost is not None:
        cost = trial_cost(frame["duration_s"].fillna(0), hourly_cost)
        frame.insert(frame.columns.get_loc("duration_s") + 1, "cost", cost)
    sweep = CollectedRun(run_id, spec, sorted(records, key=lambda r: trial_order(r.trial_id)), frame, {}, currency,
                  max_cost)
    top = sweep.ranked()["trial_id"].head(CURVES).tolist()
    sweep.histories = eval_histories({r.trial_id: r for r in records}, top, workers)
    return sweep


def trials_frame(records: list[TrialRecord], spec: Spec, workers: int = storage.WORKERS) -> pd.DataFrame:
    """The contract frame, one row per record in trial id order (unfinished trials are not fetched)."""
    records = sorted(records, key=lambda r: trial_order(r.trial_id))
    locations = {r.trial_id: storage.join(r.model_dir, METRICS_FILE) for r in records if r.state not in UNFINISHED}
    fetched = storage.fetch_many(locations.values(), workers)
    parameters = list(spec.parameters)
    taken = set(HEAD + parameters + TAIL)
    metric_keys: dict[str, None] = {}
    rows = []
    for r in records:
        metrics, problem = parse_metrics(fetched[locations[r.trial_id]]) if r.trial_id in locations else ({}, "")
        metric_keys.update(dict.fromkeys(k for k in metrics if k not in taken))
        rows.append({**metrics, "trial_id": r.trial_id, "state": r.state, "objective": r.objective,
                     **{p: r.parameters.get(p) for p in parameters}, "duration_s": r.duration_s,
                     "artifact_dir": r.artifact_dir, "error": "; ".join(filter(None, [r.reason, problem]))})
    frame = pd.DataFrame.from_records(rows, columns=HEAD + parameters + list(metric_keys) + TAIL)
    return frame.astype({"trial_id": str, "state": str, "objective": float, "duration_s": float, "error": str})


def eval_histories(records: dict[str, TrialRecord], trial_ids: list[str],
                   workers: int = storage.WORKERS) -> dict[str, pd.DataFrame]:
    """eval_history.csv (epoch, train_loss, val_loss, val_accuracy) of the given trials; a trial
    whose file is missing or unreadable is left out."""
    locations = {t: storage.join(records[t].model_dir, HISTORY_FILE) for t in trial_ids}
    fetched = storage.fetch_many(locations.values(), workers)
    curves = {}
    for trial_id, location in locations.items():
        body = fetched[location]
        if isinstance(body, Exception):
            continue
        try:
            curve = pd.read_csv(io.BytesIO(body))
        except (ValueError, UnicodeDecodeError):  # pandas' ParserError and EmptyDataError are ValueErrors
            continue
        if "epoch" in curve.columns:
            curves[trial_id] = curve
    return curves
