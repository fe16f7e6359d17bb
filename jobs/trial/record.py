"""One trial as a sweep, its progress display and its report know it, whichever backend ran it: its state,
its record, and how trials rank."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jobs.cloud import storage


class TrialState(StrEnum):
    """Vertex AI's trial states (Trial.State), and those only the local backend has: STOPPED (its pruner
    ended the trial), FAILED, and the bookkeeping states a stopped orchestrator leaves."""

    REQUESTED = "REQUESTED"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    INFEASIBLE = "INFEASIBLE"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    RESTARTED = "RESTARTED"  # left running by a stopped orchestrator, run again as a new trial
    INTERRUPTED = "INTERRUPTED"  # running when the orchestrator was stopped; a resume runs it again


S = TrialState
DONE = frozenset({S.SUCCEEDED, S.STOPPED, S.FAILED, S.INFEASIBLE})  # ended; each counts toward trials.max
FAILURES = frozenset({S.FAILED, S.INFEASIBLE})  # each counts toward trials.max_failed
UNFINISHED = frozenset({S.ACTIVE, S.REQUESTED, S.STOPPING})  # running locally; Vertex AI also queues and stops
BOOKKEEPING = frozenset({S.RESTARTED, S.INTERRUPTED})  # run again as a new trial; not a result
# How the reason of a trial begins when Vertex AI says its Spot VM was preempted and not restarted (vertex/records.py)
PREEMPTED = "preempted: its Spot VM was reclaimed and not restarted"


@dataclass
class TrialRecord:
    """One trial. ``objective`` is the value the tuner ranks (so far, while it runs); ``artifact_dir``
    is its output base (``<base>/<id>``), whose ``model/`` folder is AIP_MODEL_DIR; ``started`` is in
    epoch seconds; ``step`` is the last step it reported."""

    trial_id: str
    state: TrialState = S.ACTIVE
    objective: float | None = None
    parameters: dict[str, object] = field(default_factory=dict)
    step: int | None = None
    reason: str = ""
    started: float | None = None
    duration_s: float | None = None
    artifact_dir: str = ""
    log_tail: str = ""

    def __post_init__(self) -> None:
        self.state = TrialState(self.state)  # a record read back from JSON holds the state's name

    @property
    def model_dir(self) -> str:
        return storage.join(self.artifact_dir, "model")


def trial_order(trial_id: str) -> tuple[int, int | str]:
    """Sort key: numeric ids by number ("2" before "10"), any others after them by name."""
    return (0, int(trial_id)) if trial_id.isdigit() else (1, trial_id)


def ranked(trials: list[TrialRecord], goal: str) -> list[TrialRecord]:
    """The SUCCEEDED trials with an objective, best first by the spec's goal (never by position); equal
    objectives in trial id order."""
    done = sorted((t for t in trials if t.state == S.SUCCEEDED and t.objective is not None),
                  key=lambda t: trial_order(t.trial_id))
    return sorted(done, key=lambda t: t.objective, reverse=goal == "maximize")  # type: ignore[arg-type, return-value]


def best_trial(trials: list[TrialRecord], goal: str) -> TrialRecord | None:
    """The best SUCCEEDED trial; ties go to the lowest id. None when none succeeded."""
    order = ranked(trials, goal)
    return order[0] if order else None


def ties(trials: list[TrialRecord], goal: str) -> int:
    """How many other SUCCEEDED trials reached exactly the best trial's objective."""
    order = ranked(trials, goal)
    return sum(t.objective == order[0].objective for t in order[1:]) if order else 0
