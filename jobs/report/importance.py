"""Which parameters mattered: Optuna's own importance evaluator over the succeeded trials.

The trials are added to an in-memory study as the local search stores them (jobs/spec/space.py), so the
same code rates a local run and a Vertex run.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

import pandas as pd

from jobs.spec import Spec, space

MIN_TRIALS = 2


def param_importances(spec: Spec, succeeded: pd.DataFrame) -> tuple[dict[str, float], str]:
    """Importance of each parameter (summing to 1, largest first) from the succeeded trials in the
    contract frame, and a note for the reader: why there are none, or how much to trust them."""
    import optuna
    from optuna.trial import create_trial

    importance = _optuna_importance()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {pid: space.distribution(p) for pid, p in spec.parameters.items()}
    study = optuna.create_study(direction=spec.metric.goal)
    for _, row in succeeded.iterrows():
        params = {pid: v for pid, p in spec.parameters.items() if (v := space.to_stored(p, row[pid])) is not None}
        try:
            study.add_trial(create_trial(params=params, value=float(row["objective"]),
                                         distributions={pid: distributions[pid] for pid in params}))
        except ValueError:  # a value outside the spec's range: the trial cannot be placed
            continue
    placed = len(study.trials)
    if placed < MIN_TRIALS:
        return {}, f"needs at least {MIN_TRIALS} succeeded trials (have {placed})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PED-ANOVA warns when few trials make its quantiles coincide
        importances = importance.get_param_importances(study, evaluator=importance.PedAnovaImportanceEvaluator())
    rated = {pid: float(v) for pid, v in importances.items()}
    unrated = [pid for pid in spec.parameters if pid not in rated]
    notes = [f"Optuna PED-ANOVA over {placed} succeeded trials"]
    if placed < 10:
        notes.append("few trials: read it as a hint")
    if unrated:
        notes.append(f"not rated (no succeeded trial set it): {', '.join(unrated)}")
    return rated, "; ".join(notes)


def _optuna_importance() -> ModuleType:
    """``optuna.importance`` without loading scikit-learn: the package imports it for its fANOVA evaluator, which
    the report does not use, and that import is about a second of every report. Optuna's ``try_import`` then
    leaves only fANOVA unavailable in this process; sklearn itself imports as usual afterwards."""
    blocked = "sklearn" not in sys.modules
    if blocked:
        sys.modules["sklearn"] = None  # importing sklearn now raises ImportError, which try_import catches
    try:
        import optuna.importance
    finally:
        if blocked:
            del sys.modules["sklearn"]
    return optuna.importance
