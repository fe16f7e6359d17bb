"""The sweep spec as a model: its sections, the rules that span them, and what a valid spec computes.

Besides the checks of each field, ``Spec`` checks the rules between fields (grid search needs no double parameter,
a condition's parent comes first and takes the values listed, ``trainer.args`` does not set a tuned flag); a valid
spec builds a trial's command line, counts the points of its grid and warns about settings that waste trials.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from jobs.registry import section_names
from jobs.spec.base import INT32_MAX, StrictModel, raise_if, show
from jobs.spec.parameters import DoubleParameter, IntegerParameter, Parameter
from jobs.trial.command import module_of

_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")
# Vertex AI documents no length for a parameter or metric id (StudySpec.ParameterSpec.parameterId,
# MetricSpec.metricId); 64 keeps a trial's flags, labels and report columns readable.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Grid points a grid search may have. Vertex AI documents no limit (StudySpec.Algorithm GRID_SEARCH); the local
# search lists every point before its first trial, and a grid this size is far more than any trial budget.
MAX_GRID_POINTS = 100_000
SECTIONS = "__sections__"  # the key the backends' sections are held under
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be 1 to 41 characters: a lowercase letter, then lowercase letters, "
                         f"digits or '-', got {value!r}")
    return value


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError("must be 1 to 64 characters: a letter, then letters, digits or '_', got "
                         f"{show(value)}{f' ({len(value):,} characters)' if len(value) > 64 else ''}")
    return value


class Metric(StrictModel):
    """The metric the tuner optimizes, as the trainer reports it."""

    id: Annotated[str, AfterValidator(_identifier)]
    goal: Literal["maximize", "minimize"]


class Trials(StrictModel):
    """How many trials run in all, at once, and how many may fail before the sweep stops."""

    # maxTrialCount, parallelTrialCount and maxFailedTrialCount are int32 (aiplatform v1 HyperparameterTuningJob)
    max: int = Field(ge=1, le=INT32_MAX)
    parallel: int = Field(default=1, ge=1, le=INT32_MAX)
    max_failed: int | None = Field(default=None, le=INT32_MAX)
    max_cost: float | None = Field(default=None, gt=0)  # the most a cloud sweep may cost (jobs/cloud/cost.py)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = []
        if self.parallel > self.max:
            problems.append(("parallel", f"must be at most max ({self.max}), got {self.parallel}"))
        if self.max_failed is not None and self.max_failed < 1:
            problems.append(("max_failed", f"must be >= 1: the sweep stops when this many trials have failed; "
                                           "leave it out to stop only when the first trial fails, got "
                                           f"{self.max_failed}"))
        raise_if(problems)
        return self

    @property
    def failure_limit(self) -> int | None:
        """Failed trials that stop the sweep: ``max_failed``, at most ``max``. None when unset: then, as Vertex AI
        does with ``maxFailedTrialCount`` 0, a failing first trial stops the sweep."""
        return None if self.max_failed is None else min(self.max_failed, self.max)


class TrainerCommand(StrictModel):
    """What a trial runs: ``command`` locally (on Vertex AI, the image's entrypoint, or ``python -m MODULE`` from
    the package built from ``package``) plus ``args``."""

    command: list[str] = Field(default_factory=lambda: ["python", "-m", "trainer"], min_length=1)
    args: list[str] = Field(default_factory=list)
    package: str | None = Field(default=None, min_length=1)  # a folder with pyproject.toml or setup.py
    # the largest package archive the package route uploads, in MB (jobs/cloud/package.py)
    max_package_mb: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [(f"args[{i}]", f"unknown placeholder {{{name}}}; only {{data}} is supported")
                    for i, arg in enumerate(self.args) for name in _PLACEHOLDER.findall(arg) if name != "data"]
        problems += [(f"{field}[{i}]", "holds a NUL character, which no command line can carry: remove it")
                     for field in ("command", "args") for i, arg in enumerate(getattr(self, field)) if "\0" in arg]
        if self.package and module_of(self.command) is None:
            problems.append(("command", "must be [python, -m, MODULE] when package is set: on Vertex AI the "
                                        f"package's MODULE runs with python -m, got {self.command}"))
        raise_if(problems)
        return self


class Spec(StrictModel):
    """One sweep: what to tune, how to search, what each trial runs and on which machine."""

    name: Annotated[str, AfterValidator(_name)]
    metric: Metric
    parameters: dict[Annotated[str, AfterValidator(_identifier)], Parameter] = Field(min_length=1, max_length=100)
    algorithm: Literal["adaptive", "random", "grid"] = "adaptive"
    measurement: Literal["best", "last"] = "best"
    early_stopping: Literal["none", "median", "decay_curve"] = "none"
    trials: Trials
    trainer: TrainerCommand = Field(default_factory=TrainerCommand)
    # A section named for a backend (vertex:): its own resources and options, which that backend checks
    # (Backend.check) when it plans or runs the sweep; the spec holds it as written.
    sections: dict[str, dict] = Field(default_factory=dict, exclude=True, alias=SECTIONS)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: object) -> object:
        """Set the sections named for a registered backend apart; any other unknown key stays an error."""
        if not isinstance(data, dict):
            return data
        names = set(section_names())
        sections = {key: value for key, value in data.items() if key in names}
        return {**{key: value for key, value in data.items() if key not in names}, SECTIONS: sections}

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        """The spec as written: each backend's section at the top, beside the spec's own keys."""
        return {**handler(self), **self.sections}

    @classmethod
    def allowed_keys(cls) -> list[str]:
        return [*(name for name in cls.model_fields if name != "sections"), *section_names()]

    def section(self, backend: str) -> dict:
        """The spec's section for ``backend`` as written (empty when it has none)."""
        return self.sections.get(backend, {})

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = self._condition_problems()
        doubles = [pid for pid, p in self.parameters.items() if isinstance(p, DoubleParameter)]
        if self.algorithm == "grid" and doubles:
            problems.append(("algorithm", "grid needs every parameter integer, discrete or categorical; "
                                          f"double: {', '.join(doubles)}"))
        elif self.algorithm == "grid" and not problems and (size := self.grid_size()) > MAX_GRID_POINTS:
            problems.append(("algorithm", f"the grid has {size:,} points; grid search takes at most "
                                          f"{MAX_GRID_POINTS:,}: narrow the ranges, or use adaptive or random"))
        for i, arg in enumerate(self.trainer.args):
            flag = arg.split("=", 1)[0]
            if flag.startswith("--") and flag[2:] in self.parameters:
                problems.append((f"trainer.args[{i}]", f"sets {flag}, which the tuner appends for parameter "
                                                       f"{flag[2:]}; remove it from args"))
        raise_if(problems)
        return self

    def _condition_problems(self) -> list[tuple[str, str]]:
        problems, edges = [], {}
        for pid, p in self.parameters.items():
            if not p.when:
                continue
            [(parent, values)] = p.when.items()
            at = f"parameters.{pid}.when"
            if parent == pid:
                problems.append((at, f"{pid} cannot depend on itself"))
            elif parent not in self.parameters:
                problems.append((at, f"names {parent!r}, which is not a parameter "
                                     f"(parameters: {', '.join(self.parameters)})"))
            elif isinstance(self.parameters[parent], DoubleParameter):
                problems.append((at, f"{parent} is double; a conditional parent must be integer, discrete "
                                     "or categorical (Vertex AI rule)"))
            else:
                edges[pid] = parent
                problems += [(f"{at}.{parent}[{i}]", why) for i, value in enumerate(values)
                             if (why := self.parameters[parent]._reject(value, parent))]
        cycles = _cycles(edges)
        for cycle in cycles:
            problems.append((f"parameters.{cycle[0]}.when",
                             f"conditions form a cycle: {' -> '.join([*cycle, cycle[0]])}"))
        order, in_cycle = list(self.parameters), {pid for cycle in cycles for pid in cycle}
        for pid, parent in edges.items():
            if pid not in in_cycle and order.index(parent) > order.index(pid):
                problems.append((f"parameters.{pid}.when", f"parent {parent} must be listed before {pid}"))
        return problems

    def trainer_args(self, data_root: str) -> list[str]:
        """``trainer.args`` with ``{data}`` replaced by ``data_root`` (without a trailing '/')."""
        root = data_root.rstrip("/")
        return [arg.replace("{data}", root) for arg in self.trainer.args]

    def active(self, assignment: dict[str, object]) -> list[str]:
        """Ids of the parameters in play given ``assignment``, in spec order: those without ``when``,
        and those whose parent is active and set to one of the listed values."""

        @cache
        def is_active(pid: str) -> bool:
            when = self.parameters[pid].when
            if not when:
                return True
            [(parent, values)] = when.items()
            return is_active(parent) and parent in assignment and assignment[parent] in values

        return [pid for pid in self.parameters if is_active(pid)]

    def trial_argv(self, data_root: str, assignment: dict[str, object]) -> list[str]:
        """The command line of one trial: command, trainer args, then ``--<id>=<value>`` for each
        active parameter in spec order (integers as ``5``, floats as ``repr``, strings as is)."""
        flags = []
        for pid in self.active(assignment):
            if pid not in assignment:
                raise ValueError(f"the assignment has no value for active parameter {pid!r}")
            flags.append(f"--{pid}={_flag_value(self.parameters[pid], assignment[pid])}")
        return [*self.trainer.command, *self.trainer_args(data_root), *flags]

    def grid_size(self) -> int | None:
        """Distinct points of the grid, a conditional parameter counting only under the parent values
        that enable it; None when some parameter is double."""
        if any(isinstance(p, DoubleParameter) for p in self.parameters.values()):
            return None
        children: dict[str, list[str]] = {pid: [] for pid in self.parameters}
        for pid, p in self.parameters.items():
            if p.when:
                children[next(iter(p.when))].append(pid)

        @cache
        def points(pid: str) -> int:
            p, kids = self.parameters[pid], children[pid]
            size = p.max - p.min + 1 if isinstance(p, IntegerParameter) else len(p.values)
            keyed = {v for kid in kids for v in self.parameters[kid].when[pid]}  # values that enable a child
            under = [math.prod(points(kid) for kid in kids if v in self.parameters[kid].when[pid]) for v in keyed]
            return size - len(keyed) + sum(under)

        return math.prod(points(pid) for pid, p in self.parameters.items() if not p.when)

    def advisories(self) -> list[str]:
        """Warnings about a valid spec that will likely waste trials: parallel trials that starve adaptive search
        of results, a budget past the grid's points."""
        notes, t = [], self.trials
        if self.algorithm == "adaptive" and t.parallel > 1 and 3 * t.parallel > t.max:
            notes.append(f"parallel {t.parallel} is above a third of max {t.max}: adaptive search learns less "
                         f"between trials; consider parallel {max(1, t.max // 3)} or less, or a larger max")
        size = self.grid_size()
        if self.algorithm == "grid" and size is not None and t.max > size:
            notes.append(f"max {t.max} exceeds the grid's {size} points: the sweep runs {size} trials, as Vertex does")
        return notes


def _flag_value(parameter: Parameter, value: object) -> str:
    """``5`` for integers (also 5.0 for an integer parameter), ``repr`` for floats, strings as is."""
    if isinstance(value, float):
        integral = isinstance(parameter, IntegerParameter) and value.is_integer()
        return str(int(value)) if integral else repr(float(value))
    return str(value)


def _cycles(edges: dict[str, str]) -> list[list[str]]:
    """Each cycle of the child -> parent graph once, starting where it was first met."""
    found, seen = [], set()
    for start in edges:
        chain, node = [], start
        while node in edges and node not in seen and node not in chain:
            chain.append(node)
            node = edges[node]
        if node in chain:
            found.append(chain[chain.index(node):])
        seen.update(chain)
    return found
