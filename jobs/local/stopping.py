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


class _WarmedUpPruner(optuna.pruners.BasePruner):
    """A rule that judges a trial only from its ``n_warmup_steps``-th report on, and only once
    ``n_startup_trials`` trials have completed; ``judge`` sees values as losses (lower is better)."""

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
        sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
        curve = sorted((s, sign * v) for s, v in trial.intermediate_values.items())
        completed = [(sign * t.value, {s: sign * v for s, v in t.intermediate_values.items()}) for t in done]
        return self.judge(step, curve, completed)

    def judge(self, step: int, curve: list[tuple[int, float]], completed: list[tuple[float, dict[int, float]]]) -> bool:
        raise NotImplementedError


class MedianStoppingPruner(_WarmedUpPruner):
    """Vertex AI's median rule (StudySpec.MedianAutomatedStoppingSpec): stop a trial whose best value so far is
    worse than the median, over completed trials, of the running average of what each reported up to this
    step. Unlike Optuna's MedianPruner, a completed trial that ended before this step still counts (with
    all it reported), so a slow trial is held to the trials that finished early, not only to slow ones."""

    def judge(self, step: int, curve: list[tuple[int, float]], completed: list[tuple[float, dict[int, float]]]) -> bool:
        averages = []
        for _, reports in completed:
            reported = [v for s, v in reports.items() if s <= step]
            if reported:
                averages.append(sum(reported) / len(reported))
        return bool(averages) and min(v for _, v in curve) > float(np.median(averages))


class DecayCurvePruner(_WarmedUpPruner):
    """Stops a trial when even an optimistic reading of its curve (the fit at the longest completed trial's
    last step, or its best report so far when ``best_counts``, improved by SLACK residual deviations)
    does not beat the best completed trial. bench/stopping.py measured the slack and the warm-up."""

    def __init__(self, n_startup_trials: int = 3, n_warmup_steps: int = 5, best_counts: bool = True):
        super().__init__(n_startup_trials, n_warmup_steps)
        self.best_counts = best_counts

    def judge(self, step: int, curve: list[tuple[int, float]], completed: list[tuple[float, dict[int, float]]]) -> bool:
        best = min(value for value, _ in completed)
        horizon = max([step, *(max(reports, default=0) for _, reports in completed)])
        predicted, spread = extrapolate([s for s, _ in curve], [v for _, v in curve], horizon)
        if self.best_counts:
            predicted = min(predicted, *(v for _, v in curve))
        return predicted - SLACK * spread > best
