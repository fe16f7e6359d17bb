"""The spec's early stopping rules as Optuna pruners, the local counterparts of Vertex AI's
``medianAutomatedStoppingSpec`` and ``decayCurveStoppingSpec``."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState

SLACK = 2.0  # how many standard deviations of the fit's residuals the curve may still beat its prediction by


def extrapolate(steps: list[int], values: list[float], horizon: int) -> tuple[float, float]:
    """Fit ``y = a + b / step`` by least squares: its value at ``horizon`` and the residuals' standard deviation."""
    t = np.asarray(steps, dtype=float)
    y = np.asarray(values, dtype=float)
    design = np.column_stack([np.ones_like(t), 1.0 / t])
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(a + b / horizon), float(np.std(y - design @ np.array([a, b])))


def _completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]


def _as_loss(study: optuna.Study) -> float:
    """The sign that turns the study's values into losses (lower is better)."""
    return -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0


class MedianStoppingPruner(optuna.pruners.BasePruner):
    """Vertex AI's median rule (StudySpec.MedianAutomatedStoppingSpec): stop a trial whose best value so far is
    worse than the median, over completed trials, of the running average of what each reported up to this
    step. Unlike Optuna's MedianPruner, a completed trial that ended before this step still counts (with
    all it reported), so a slow trial is held to the trials that finished early, not only to slow ones."""

    def __init__(self, n_startup_trials: int = 3, n_warmup_steps: int = 5):
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = _completed(study)
        if len(done) < self.n_startup_trials:
            return False
        sign = _as_loss(study)
        averages = []
        for t in done:
            reported = [sign * v for s, v in t.intermediate_values.items() if s <= step]
            if reported:
                averages.append(sum(reported) / len(reported))
        best = min(sign * v for v in trial.intermediate_values.values())
        return bool(averages) and best > float(np.median(averages))


class DecayCurvePruner(optuna.pruners.BasePruner):
    """Stops a trial when even an optimistic reading of its curve (the fit at the longest completed trial's
    last step, or its best report so far when ``best_counts``, improved by SLACK residual deviations)
    does not beat the best completed trial. bench/stopping.py measured the slack and the warm-up."""

    def __init__(self, n_startup_trials: int = 3, n_warmup_steps: int = 5, best_counts: bool = True):
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.best_counts = best_counts

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = _completed(study)
        if len(done) < self.n_startup_trials:
            return False
        sign = _as_loss(study)
        best = min(sign * t.value for t in done)
        horizon = max([step, *(t.last_step or 0 for t in done)])
        curve = sorted(trial.intermediate_values.items())
        predicted, spread = extrapolate([s for s, _ in curve], [sign * v for _, v in curve], horizon)
        if self.best_counts:
            predicted = min(predicted, *(sign * v for _, v in curve))
        return predicted - SLACK * spread > best
