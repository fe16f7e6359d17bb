"""Early stopping by decay curve: stop a trial whose learning curve, extrapolated, cannot beat the
best completed trial (the local counterpart of Vertex AI's DECAY_CURVE_AUTOMATED_STOPPING)."""

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
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if len(done) < self.n_startup_trials:
            return False
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0  # as a loss: lower is better
        best = min(sign * t.value for t in done)
        horizon = max([step, *(t.last_step or 0 for t in done)])
        curve = sorted(trial.intermediate_values.items())
        predicted, spread = extrapolate([s for s, _ in curve], [sign * v for _, v in curve], horizon)
        if self.best_counts:
            predicted = min(predicted, *(sign * v for _, v in curve))
        return predicted - SLACK * spread > best
