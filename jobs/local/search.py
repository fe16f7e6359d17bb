"""The spec's search, on Optuna: samplers, pruners, suggestions and grid points (each parameter as
Optuna stores it: jobs/spec/space.py)."""

from __future__ import annotations

import contextlib
import copy
import gc
import math
import random
import threading

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial

from jobs.local import warping
from jobs.run.budget import planned_trials
from jobs.spec import Spec, space

ADAPTIVE_STARTUP = 5  # trials before the model takes over: the centre of the space, then random ones
STOPPING_STARTUP = 3  # completed trials before early stopping may stop one (bench/stopping.py)
STOPPING_WARMUP = 5  # reports (epochs) every trial makes before it may be stopped


def _tpe(seed: int | None) -> optuna.samplers.BaseSampler:
    # constant_liar: trials still running count as bad guesses, so parallel trials spread out.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                      n_startup_trials=ADAPTIVE_STARTUP)


class _OneThreadGP(optuna.samplers.GPSampler):
    """Optuna's GP sampler, fitting and optimizing on one torch thread. Its matrices are a few hundred rows at
    most, and the trials keep the cores busy: with torch's default of a thread per core, a suggestion on the
    default spec's space took 3 times as long on 2 cores while 2 trials ran (0.6 s against 0.2 s).
    Its model's modules load in the background (``preload_model``); a model-based suggestion waits for them."""

    def sample_relative(self, study, trial, search_space):
        if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) < ADAPTIVE_STARTUP:
            return super().sample_relative(study, trial, search_space)  # centre, then random: no model, no torch yet
        preload_model().wait()
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().sample_relative(study, trial, search_space)
        finally:
            torch.set_num_threads(threads)

    def sample_independent(self, study, trial, param_name, param_distribution):
        if trial.number == 0:  # a sweep's first trial: the centre of the space, as Vizier's designer starts
            return centre(param_distribution)
        return super().sample_independent(study, trial, param_name, param_distribution)

    def _sample_relative_impl(self, study, completed_trials, running_trials, search_space):
        # Optuna runs this inside `with torch.device("cpu")`, a mode that sends every torch call through a Python
        # hook: a fifth of a suggestion's CPU. Torch's default device here is the CPU already (nothing in the
        # orchestrator changes it), so the hook is switched off; the suggestions stay the same.
        import torch

        with torch._C.DisableTorchFunction():
            return super()._sample_relative_impl(study, _warped(study, completed_trials), running_trials,
                                                 search_space)

    def _get_acqf_and_best_params(self, completed_trials, gprs_list, search_space, normalized_params,
                                  normalized_params_of_running_trials, standardized_score_vals):
        # Plug-in EI: improvement over the GP's mean at the trials rather than over their observed values, so one lucky
        # draw of a noisy trainer does not set the bar (for a noiseless one the two agree).
        import torch

        mean, _ = gprs_list[0].posterior(torch.from_numpy(normalized_params))
        return super()._get_acqf_and_best_params(completed_trials, gprs_list, search_space, normalized_params,
                                                 normalized_params_of_running_trials, mean.numpy()[:, None])


def centre(distribution: BaseDistribution) -> object:
    """The middle of a distribution's range (of its logarithm on a log scale, on its step's grid), or a
    categorical's first value: where OSS Vizier's default designer puts a study's first trial
    (gp_ucb_pe.py, ``_generate_seed_trials``: scaled features 0.5, categorical index 0)."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    low, high = distribution.low, distribution.high
    middle = math.sqrt(low * high) if distribution.log else (low + high) / 2
    if distribution.step:
        middle = low + round((middle - low) / distribution.step) * distribution.step
    if isinstance(distribution, IntDistribution):
        return min(high, max(low, round(middle)))
    return min(high, max(low, middle))


def _warped(study: optuna.Study, trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Copies of the completed trials holding their warped values (jobs/local/warping.py), which the GP fits."""
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    values = sign * warping.warp(sign * np.array([t.value for t in trials]))
    copies = [copy.copy(t) for t in trials]
    for trial, value in zip(copies, values, strict=True):
        trial.value = float(value)
    return copies


def _gp(seed: int | None) -> optuna.samplers.BaseSampler:
    # Trials still running enter its acquisition (qLogEI) as pending points, so parallel trials spread out.
    return _OneThreadGP(seed=seed, n_startup_trials=ADAPTIVE_STARTUP, warn_independent_sampling=False)


def _load_model() -> None:
    """One model-based suggestion on a throwaway study, in a double, an integer and a categorical dimension:
    everything the GP's first suggestion imports (torch, scipy.stats, scipy.optimize: 2-3 s) is loaded after it,
    and its first calls are made."""
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0, n_startup_trials=ADAPTIVE_STARTUP))
    for i in range(ADAPTIVE_STARTUP + 1):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        trial.suggest_int("n", 0, 3)
        trial.suggest_categorical("c", ["a", "b"])
        study.tell(trial, float(i))


_model_loaded: threading.Event | None = None


def preload_model() -> threading.Event:
    """Start loading the GP's modules in a background thread (once per process), so that a sweep's first
    trials run meanwhile; returns the event set when they are in (or failed: the first suggestion then says why)."""
    global _model_loaded
    if _model_loaded is None:
        loaded = _model_loaded = threading.Event()

        def load() -> None:
            try:
                with contextlib.suppress(Exception):  # the sweep's first model-based suggestion raises it again
                    _load_model()
                # What is loaded now lives as long as the process: out of the collector's reach, the collections
                # of the interpreter's exit skip it (0.7 s of CPU less at the end of a sweep).
                gc.freeze()
            finally:
                loaded.set()

        # Not a daemon: an interpreter that exits while torch loads in another thread can abort (SIGABRT, seen
        # when a sweep ended first); at exit Python waits for it.
        threading.Thread(target=load, name="preload-model").start()
    return _model_loaded


ADAPTIVE_SAMPLERS = {"tpe": _tpe, "gp": _gp}
# The sampler ``algorithm: adaptive`` runs: a Gaussian process (Bayesian optimization, as Vertex AI's default is)
# on warped values, over every parameter (docs/decisions.md#adaptive-search-a-gp-on-warped-values-over-every-parameter);
# bench/search.py sets another to compare them.
ADAPTIVE = "gp"


def _models_every_parameter(spec: Spec) -> bool:
    """Whether each trial asks for every parameter, conditional ones included. Optuna's GP models only the
    parameters every trial has and would draw a conditional one at random: asked for everywhere, it models them
    all, and a trainer still receives only the active ones (as Vizier searches a conditional space flat)."""
    return spec.algorithm == "adaptive" and ADAPTIVE == "gp"


def sampler_for(spec: Spec, seed: int | None) -> optuna.samplers.BaseSampler:
    if spec.algorithm == "adaptive":
        if ADAPTIVE == "gp" and planned_trials(spec) > ADAPTIVE_STARTUP:  # a sweep that gets to the model
            preload_model()
        return ADAPTIVE_SAMPLERS[ADAPTIVE](seed)
    return optuna.samplers.RandomSampler(seed=seed)  # grid points are enqueued, see grid_points


def pruner_for(spec: Spec) -> optuna.pruners.BasePruner:
    from jobs.local.stopping import DecayCurvePruner, MedianStoppingPruner

    if spec.early_stopping == "median":
        return MedianStoppingPruner(n_startup_trials=STOPPING_STARTUP, n_warmup_steps=STOPPING_WARMUP)
    if spec.early_stopping == "decay_curve":
        return DecayCurvePruner(n_startup_trials=STOPPING_STARTUP, n_warmup_steps=STOPPING_WARMUP,
                                best_counts=spec.measurement == "best")
    return optuna.pruners.NopPruner()


def suggest(trial: optuna.Trial, spec: Spec) -> dict[str, object]:
    """Ask Optuna for every active parameter (every parameter, where the sampler models them all); returns the
    values a trainer receives."""
    every = _models_every_parameter(spec)
    values: dict[str, object] = {}
    for pid, p in spec.parameters.items():
        if every or pid in spec.active(values):
            values[pid] = space.suggest(trial, pid, p)
    active = spec.active(values)
    return {pid: value for pid, value in values.items() if pid in active}


def grid_points(spec: Spec, seed: int | None) -> list[dict]:
    """Every point of the grid as Optuna's stored params, in a seeded random order
    (so a sweep with ``max`` below the grid's size still spreads over it)."""
    points: list[dict] = [{}]
    for pid, p in spec.parameters.items():
        grown = []
        for point in points:
            given = {k: space.from_stored(spec.parameters[k], v) for k, v in point.items()}
            if pid in spec.active(given):
                grown += [point | {pid: v} for v in space.stored_choices(p)]
            else:
                grown.append(point)
        points = grown
    random.Random(seed).shuffle(points)
    return points
