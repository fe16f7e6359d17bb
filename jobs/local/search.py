"""The spec's search, on Optuna: samplers, pruners, and each parameter as an Optuna suggestion.

Internal representation (what Optuna stores): doubles and integers as themselves (reverse_log
doubles reflected, ``min + max - x``, so Optuna's log scale puts the density near ``max``); discrete
values by their index, so samplers see their order; categoricals as themselves.
"""

from __future__ import annotations

import random

import optuna

from jobs.spec import Spec

ADAPTIVE_STARTUP = 5  # random trials before the model takes over


def _tpe(seed: int | None) -> optuna.samplers.BaseSampler:
    # constant_liar: trials still running count as bad guesses, so parallel trials spread out.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                      n_startup_trials=ADAPTIVE_STARTUP)


def _gp(seed: int | None) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=ADAPTIVE_STARTUP)


ADAPTIVE_SAMPLERS = {"tpe": _tpe, "gp": _gp}  # bench/sweep.py measures each
ADAPTIVE = "tpe"


def sampler_for(spec: Spec, seed: int | None, adaptive: str = ADAPTIVE) -> optuna.samplers.BaseSampler:
    if spec.algorithm == "adaptive":
        return ADAPTIVE_SAMPLERS[adaptive](seed)
    return optuna.samplers.RandomSampler(seed=seed)  # grid points are enqueued, see grid_points


def pruner_for(spec: Spec) -> optuna.pruners.BasePruner:
    if spec.early_stopping == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5)
    if spec.early_stopping == "decay_curve":
        from jobs.local.decay import DecayCurvePruner

        return DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5)
    return optuna.pruners.NopPruner()


def suggest(trial: optuna.Trial, spec: Spec) -> dict[str, object]:
    """Ask Optuna for every active parameter; returns the values a trainer receives."""
    values: dict[str, object] = {}
    for pid, p in spec.parameters.items():
        if pid not in spec.active(values):
            continue
        if p.type == "double":
            if p.scale == "reverse_log":
                values[pid] = p.min + p.max - trial.suggest_float(pid, p.min, p.max, log=True)
            else:
                values[pid] = trial.suggest_float(pid, p.min, p.max, log=p.scale == "log")
        elif p.type == "integer":
            values[pid] = trial.suggest_int(pid, p.min, p.max, log=p.scale == "log")
        elif p.type == "discrete":
            values[pid] = p.values[trial.suggest_int(pid, 0, len(p.values) - 1)]
        else:
            values[pid] = trial.suggest_categorical(pid, p.values)
    return values


def _choices(spec: Spec, pid: str) -> list:
    """Internal values of a grid parameter."""
    p = spec.parameters[pid]
    if p.type == "integer":
        return list(range(p.min, p.max + 1))
    if p.type == "discrete":
        return list(range(len(p.values)))
    return list(p.values)


def _decode(spec: Spec, pid: str, internal):
    p = spec.parameters[pid]
    return p.values[internal] if p.type == "discrete" else internal


def grid_points(spec: Spec, seed: int | None) -> list[dict]:
    """Every point of the grid as Optuna's internal params, in a seeded random order
    (so a sweep with ``max`` below the grid's size still spreads over it)."""
    points: list[dict] = [{}]
    for pid in spec.parameters:
        grown = []
        for point in points:
            decoded = {k: _decode(spec, k, v) for k, v in point.items()}
            if pid in spec.active(decoded):
                grown += [point | {pid: v} for v in _choices(spec, pid)]
            else:
                grown.append(point)
        points = grown
    random.Random(seed).shuffle(points)
    return points
