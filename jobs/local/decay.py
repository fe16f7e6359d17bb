"""Early stopping by decay curve: stop a trial whose learning curve, extrapolated, cannot beat the
best completed trial (the local counterpart of Vertex AI's DECAY_CURVE_AUTOMATED_STOPPING)."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState


def extrapolate(steps: list[int], values: list[float], horizon: int) -> float:
    """Fit ``y = a + b / step`` by least squares and evaluate it at ``horizon``."""
    t = np.asarray(steps, dtype=float)
    design = np.column_stack([np.ones_like(t), 1.0 / t])
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(values, dtype=float), rcond=None)
    return float(a + b / horizon)


class DecayCurvePruner(optuna.pruners.BasePruner):
    def __init__(self, n_startup_trials: int = 3, n_warmup_steps: int = 5):
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
        if len(done) < self.n_startup_trials:
            return False
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        best = max(t.value for t in done) if maximize else min(t.value for t in done)
        horizon = max([step, *(t.last_step or 0 for t in done)])
        curve = sorted(trial.intermediate_values.items())
        predicted = extrapolate([s for s, _ in curve], [v for _, v in curve], horizon)
        return predicted < best if maximize else predicted > best
