"""Which parameters mattered: Optuna's own importance evaluator over the succeeded trials.

The trials are added to an in-memory study as the local search stores them (jobs/space.py), so the
same code rates a local run and a Vertex run.
"""

from __future__ import annotations

import warnings

import pandas as pd

from jobs import space
from jobs.spec import Spec

MIN_TRIALS = 2


def param_importances(spec: Spec, succeeded: pd.DataFrame) -> tuple[dict[str, float], str]:
    """Importance of each parameter (summing to 1, largest first) from the succeeded trials in the
    contract frame, and a note for the reader: why there are none, or how much to trust them."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import create_trial

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
        importances = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    rated = {pid: float(v) for pid, v in importances.items()}
    unrated = [pid for pid in spec.parameters if pid not in rated]
    notes = [f"Optuna PED-ANOVA over {placed} succeeded trials"]
    if placed < 10:
        notes.append("few trials: read it as a hint")
    if unrated:
        notes.append(f"not rated (no succeeded trial set it): {', '.join(unrated)}")
    return rated, "; ".join(notes)

