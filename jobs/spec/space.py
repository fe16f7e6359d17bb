"""A spec's parameters as Optuna stores them: the one mapping the local search and the report's
importances share, so a value a sampler stores and a value a report places always agree.

Doubles and integers are themselves (a ``reverse_log`` double reflected, ``min + max - x``, so a log
scale puts the density near ``max``); discrete values are their index, so samplers see their order;
categoricals are themselves.
"""

from __future__ import annotations

import math

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from jobs.spec import Parameter


def distribution(parameter: Parameter) -> BaseDistribution:
    """The Optuna distribution of a parameter's stored values."""
    if parameter.type == "double":
        return FloatDistribution(parameter.min, parameter.max, log=parameter.scale != "linear")
    if parameter.type == "integer":
        return IntDistribution(parameter.min, parameter.max, log=parameter.scale == "log")
    if parameter.type == "discrete":
        return IntDistribution(0, len(parameter.values) - 1)
    return CategoricalDistribution(parameter.values)


def to_stored(parameter: Parameter, value: object) -> object | None:
    """A trainer's value as Optuna stores it, or None when it is not one of the parameter's values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if parameter.type == "discrete":
        return parameter.values.index(value) if value in parameter.values else None
    if parameter.type == "categorical":
        return value if value in parameter.values else None
    if parameter.type == "double" and parameter.scale == "reverse_log":
        return parameter.min + parameter.max - float(value)  # type: ignore[arg-type]
    return int(value) if parameter.type == "integer" else value  # type: ignore[call-overload]


def from_stored(parameter: Parameter, stored: object) -> object:
    """The value a trainer receives for a stored one."""
    if parameter.type == "discrete":
        return parameter.values[stored]  # type: ignore[index]
    if parameter.type == "double" and parameter.scale == "reverse_log":
        return parameter.min + parameter.max - stored  # type: ignore[operator]
    return stored


def suggest(trial, pid: str, parameter: Parameter) -> object:
    """Ask an Optuna trial for a parameter (public ``suggest_*`` calls on its stored distribution); returns the
    value a trainer receives."""
    d = distribution(parameter)
    if isinstance(d, FloatDistribution):
        stored: object = trial.suggest_float(pid, d.low, d.high, log=d.log)
    elif isinstance(d, IntDistribution):
        stored = trial.suggest_int(pid, d.low, d.high, log=d.log)
    else:
        stored = trial.suggest_categorical(pid, d.choices)
    return from_stored(parameter, stored)


def stored_choices(parameter: Parameter) -> list:
    """Every stored value of a parameter on a grid (no doubles)."""
    d = distribution(parameter)
    if isinstance(d, IntDistribution):
        return list(range(d.low, d.high + 1))
    if isinstance(d, CategoricalDistribution):
        return list(d.choices)
    raise ValueError(f"a {parameter.type} parameter has no grid")
