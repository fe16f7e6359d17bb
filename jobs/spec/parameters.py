"""The four types of tuned parameter (double, integer, discrete, categorical), each checked as Vertex AI would.

A parameter's ``when`` names the parent it depends on; ``Spec`` checks that parent, and asks the parent type's
``_reject`` whether each listed value is one of its own (a double cannot be a parent).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

from jobs.spec.base import BOOLEAN, INT64_MAX, INT64_MIN, StrictModel, raise_if, show

Scale = Literal["linear", "log", "reverse_log"]


def _number(value: float) -> str:
    """A discrete value as written in YAML: 32, not 32.0."""
    return str(int(value)) if value.is_integer() else repr(value)


def _not_a_category(value: object) -> str | None:
    """Why ``value`` cannot be a categorical value, for the mistakes YAML invites."""
    if isinstance(value, bool):
        return f"got {show(value)}: {BOOLEAN}"
    if isinstance(value, int | float):
        return f"{show(value)} is a number; categorical values are strings: quote it, or use type discrete"
    if value == "":
        return "must not be an empty string"
    if isinstance(value, str) and (control := next((c for c in value if unicodedata.category(c) == "Cc"), None)):
        return f"holds the control character {control!r}; a trial gets the value on its command line: remove it"
    return None


def _category(value: object) -> object:
    if why := _not_a_category(value):
        raise ValueError(why)
    return value


def _repeated(values: list) -> list:
    """Values listed more than once, sorted (one pass: a long list stays fast)."""
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _when_problems(when: dict[str, list] | None) -> list[tuple[str, str]]:
    if when is None:
        return []
    if len(when) != 1:
        return [("when", f"must name exactly one parent parameter, got {', '.join(when) or 'none'}")]
    [(parent, values)] = when.items()
    return [] if values else [(f"when.{parent}", f"must list at least one value of {parent}")]


class _Parameter(StrictModel):
    """Runs a parameter type's own checks, then those of its ``when``. Subclasses declare the fields, ``when``
    last (the order of the allowed keys a message lists), and ``_problems``."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        raise_if(self._problems() + _when_problems(self.when))
        return self

    def _problems(self) -> list[tuple[str, str]]:
        raise NotImplementedError


class _Range(_Parameter):
    """The fields of a double or integer parameter: a number in [min, max]. A subclass narrows ``type`` (and
    integer narrows min and max); a field it declares again keeps its place here."""

    type: str
    min: float
    max: float
    scale: Scale = "linear"
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.min >= self.max:
            problems.append(("min", f"must be less than max ({show(self.max)}), got {show(self.min)}"))
        if self.scale != "linear" and self.min <= 0:
            problems.append(("min", f"must be > 0 with scale {self.scale} (Vertex AI requires it), "
                                    f"got {show(self.min)}"))
        if math.isinf(float(self.max) - float(self.min)):
            problems.append(("max", f"the range {show(self.min)}..{show(self.max)} is wider than a float can hold, "
                                    "so no value can be drawn from it: narrow it"))
        return problems


class DoubleParameter(_Range):
    """A real number in [min, max]."""

    type: Literal["double"]


class IntegerParameter(_Range):
    """An integer in [min, max], both included."""

    type: Literal["integer"]
    # IntegerValueSpec.minValue/maxValue are int64 (aiplatform v1 StudySpec.ParameterSpec.IntegerValueSpec)
    min: int = Field(ge=INT64_MIN, le=INT64_MAX)
    max: int = Field(ge=INT64_MIN, le=INT64_MAX)

    def _reject(self, value: object, name: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer value of {name}, got {show(value)}"
        if not self.min <= value <= self.max:
            return f"{value} is outside {name}'s range {self.min}..{self.max}"
        return None


class DiscreteParameter(_Parameter):
    """One of a list of numbers, in increasing order."""

    type: Literal["discrete"]
    values: list[float] = Field(min_length=1, max_length=1000)
    scale: Scale = "linear"
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        repeated = _repeated(self.values)
        if repeated:
            problems.append(("values", f"must be distinct; repeated: {', '.join(map(_number, repeated))}"))
        else:
            for before, after in zip(self.values, self.values[1:]):
                if after < before:
                    problems.append(("values", "must be in increasing order (Vertex AI requires it); "
                                               f"{_number(after)} comes after {_number(before)}"))
                    break
        if self.scale != "linear" and min(self.values) <= 0:
            problems.append(("values", f"must all be > 0 with scale {self.scale} (Vertex AI requires it), "
                                       f"got {_number(min(self.values))}"))
        return problems

    def _reject(self, value: object, name: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, one of {name}'s values, got {show(value)}"
        if value not in self.values:
            return f"{show(value)} is not one of {name}'s values ({', '.join(map(_number, self.values))})"
        return None


class CategoricalParameter(_Parameter):
    """One of a list of strings."""

    type: Literal["categorical"]
    values: list[Annotated[str, BeforeValidator(_category)]] = Field(min_length=1, max_length=1000)
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        repeated = _repeated(self.values)
        return [("values", f"must be distinct; repeated: {', '.join(repeated)}")] if repeated else []

    def _reject(self, value: object, name: str) -> str | None:
        if not isinstance(value, str):
            return _not_a_category(value) or f"must be a string, got {show(value)}"
        if value not in self.values:
            return f"{value!r} is not one of {name}'s values ({', '.join(self.values)})"
        return None


Parameter = Annotated[DoubleParameter | IntegerParameter | DiscreteParameter | CategoricalParameter,
                      Field(discriminator="type")]
PARAMETER_TYPES = {"double": DoubleParameter, "integer": IntegerParameter, "discrete": DiscreteParameter,
                   "categorical": CategoricalParameter}
