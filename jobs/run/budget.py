"""A sweep's trial budget: the spec's ``trials`` with the command line's overrides, and how many trials
a sweep will really run."""

from __future__ import annotations

from jobs.spec import Spec


def with_budget(spec: Spec, trials: int | None, parallel: int | None, smoke: bool = False,
                max_cost: float | None = None) -> Spec:
    """The spec with ``--trials``/``--parallel``/``--max-cost`` applied (``--smoke``: one trial); parallel at
    most max."""
    budget = spec.trials.model_dump()
    if max_cost is not None:
        budget["max_cost"] = max_cost
    if smoke:
        budget.update(max=1, parallel=1)
    if trials is not None:
        budget["max"] = trials
    if parallel is not None:
        budget["parallel"] = parallel
    budget["parallel"] = min(budget["parallel"], budget["max"])
    return spec.model_copy(update={"trials": type(spec.trials)(**budget)})


def planned_trials(spec: Spec) -> int:
    """``trials.max``, or the grid's size when smaller: a grid search runs each point once, on both backends."""
    if spec.algorithm == "grid":
        return min(spec.trials.max, spec.grid_size() or spec.trials.max)
    return spec.trials.max
