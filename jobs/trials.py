"""One trial as a sweep, its progress display and its report know it, whichever backend ran it."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer import uri

DONE = ("SUCCEEDED", "STOPPED", "FAILED", "INFEASIBLE")  # ended; each counts toward trials.max
FAILURES = ("FAILED", "INFEASIBLE")  # each counts toward trials.max_failed
UNFINISHED = ("ACTIVE", "REQUESTED", "STOPPING")  # running locally; Vertex AI also queues and stops
BOOKKEEPING = ("RESTARTED", "INTERRUPTED")  # left by a stopped orchestrator and run again as a new trial


@dataclass
class TrialRecord:
    """One trial. ``objective`` is the value the tuner ranks (so far, while it runs); ``artifact_dir``
    is its output base (``<base>/<id>``), whose ``model/`` folder is AIP_MODEL_DIR; ``started`` is in
    epoch seconds; ``step`` is the last step it reported."""

    trial_id: str
    state: str = "ACTIVE"
    objective: float | None = None
    parameters: dict[str, object] = field(default_factory=dict)
    step: int | None = None
    reason: str = ""
    started: float | None = None
    duration_s: float | None = None
    artifact_dir: str = ""
    log_tail: str = ""

    @property
    def model_dir(self) -> str:
        return uri.join(self.artifact_dir, "model")


def trial_order(trial_id: str) -> tuple[int, int | str]:
    """Sort key: numeric ids by number ("2" before "10"), any others after them by name."""
    return (0, int(trial_id)) if trial_id.isdigit() else (1, trial_id)


def best_trial(trials: list[TrialRecord], goal: str) -> TrialRecord | None:
    """The best SUCCEEDED trial by the spec's goal, never by position; ties go to the lowest id."""
    done = sorted((t for t in trials if t.state == "SUCCEEDED" and t.objective is not None),
                  key=lambda t: trial_order(t.trial_id))
    if not done:
        return None
    return max(done, key=lambda t: t.objective) if goal == "maximize" else min(done, key=lambda t: t.objective)
