"""What the one renderer prints of a backend's outcome."""

from __future__ import annotations

import io

from rich.console import Console

from jobs.console.render import show
from jobs.run.outcome import Best, Outcome
from jobs.trial.record import TrialRecord, TrialState


def test_the_best_trial_says_how_many_others_tied_whichever_backend_built_it():
    trials = [TrialRecord(str(i), TrialState.SUCCEEDED, value, {"x": i}, artifact_dir=f"a/{i}")
              for i, value in ((1, 0.5), (2, 0.9), (3, 0.9), (4, 0.9))]
    best = Best(trials, "accuracy", "maximize")
    assert best.tied == 2  # derived from the trials, never set by a backend
    console = Console(file=io.StringIO(), width=200)
    assert show(Outcome([best]), console) == 0
    assert console.file.getvalue().splitlines() == [
        "best trial: 2  accuracy = 0.9 (tied with 2 other trials; the first is named)", "parameters: x=2",
        "artifacts:  a/2"]
