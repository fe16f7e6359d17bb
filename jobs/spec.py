"""The sweep spec: a YAML file that describes one hyperparameter sweep, validated as Vertex AI would.

``load_spec`` reads and checks a file; every problem found is reported at once in one ``SpecError``
whose lines read ``<file>: <field.path>: <reason>``. The same ``Spec`` drives the local backend and
the Vertex AI backend; see docs/sweep-spec.md for the format.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Hashable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from jobs.errors import UserError
from jobs.machines import machine_problem
from jobs.reference import unreported_metric

Scale = Literal["linear", "log", "reverse_log"]

_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_BOOLEAN = "YAML reads unquoted yes/no/on/off/true/false as booleans; quote it, e.g. \"yes\""


class SpecError(UserError, ValueError):
    """A spec that cannot be used. ``problems`` holds (path, reason) pairs; the path is a dotted
    field path (``parameters.learning_rate.min``, ``trainer.args[1]``), a YAML position, or empty
    when the problem is the whole file. ``str(err)`` has one line per problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {reason}" if path else f"{source}: {reason}"
                                   for path, reason in problems))


class _Problems(ValueError):
    """Several problems found by one validator, each (path relative to the model, reason)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {reason}" if path else reason for path, reason in problems))
        self.problems = problems


def _raise_if(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise _Problems(problems)


def _show(value: object) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: float) -> str:
    """A discrete value as written in YAML: 32, not 32.0."""
    return str(int(value)) if value.is_integer() else repr(value)


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be 1 to 41 characters: a lowercase letter, then lowercase letters, "
                         f"digits or '-', got {value!r}")
    return value


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"must start with a letter and hold only letters, digits and '_', got {value!r}")
    return value


def _not_a_category(value: object) -> str | None:
    """Why ``value`` cannot be a categorical value, for the mistakes YAML invites."""
    if isinstance(value, bool):
        return f"got {_show(value)}: {_BOOLEAN}"
    if isinstance(value, int | float):
        return f"{_show(value)} is a number; categorical values are strings: quote it, or use type discrete"
    if value == "":
        return "must not be an empty string"
    return None


def _repeated(values: list) -> list:
    """Values listed more than once, sorted (one pass: a long list stays fast)."""
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _category(value: object) -> object:
    if why := _not_a_category(value):
        raise ValueError(why)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Metric(_Model):
    """The metric the tuner optimizes, as the trainer reports it."""

    id: Annotated[str, AfterValidator(_identifier)]
    goal: Literal["maximize", "minimize"]


class _Parameter(_Model):
    """Runs a parameter type's own checks; subclasses declare the fields and ``_problems``."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        _raise_if(self._problems())
        return self

    def _problems(self) -> list[tuple[str, str]]:
        raise NotImplementedError


def _when_problems(when: dict[str, list] | None) -> list[tuple[str, str]]:
    if when is None:
        return []
    if len(when) != 1:
        return [("when", f"must name exactly one parent parameter, got {', '.join(when) or 'none'}")]
    [(parent, values)] = when.items()
    return [] if values else [(f"when.{parent}", f"must list at least one value of {parent}")]


def _range_problems(low: float, high: float, scale: str) -> list[tuple[str, str]]:
    problems = []
    if low >= high:
        problems.append(("min", f"must be less than max ({_show(high)}), got {_show(low)}"))
    if scale != "linear" and low <= 0:
        problems.append(("min", f"must be > 0 with scale {scale} (Vertex AI requires it), got {_show(low)}"))
    return problems


class DoubleParameter(_Parameter):
    """A real number in [min, max]."""

    type: Literal["double"]
    min: float
    max: float
    scale: Scale = "linear"
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        return _range_problems(self.min, self.max, self.scale) + _when_problems(self.when)


class IntegerParameter(_Parameter):
    """An integer in [min, max], both included."""

    type: Literal["integer"]
    min: int
    max: int
    scale: Scale = "linear"
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        return _range_problems(self.min, self.max, self.scale) + _when_problems(self.when)

    def _reject(self, value: object, name: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer value of {name}, got {_show(value)}"
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
        return problems + _when_problems(self.when)

    def _reject(self, value: object, name: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, one of {name}'s values, got {_show(value)}"
        if value not in self.values:
            return f"{_show(value)} is not one of {name}'s values ({', '.join(map(_number, self.values))})"
        return None


class CategoricalParameter(_Parameter):
    """One of a list of strings."""

    type: Literal["categorical"]
    values: list[Annotated[str, BeforeValidator(_category)]] = Field(min_length=1, max_length=1000)
    when: dict[str, list] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        repeated = _repeated(self.values)
        problems = [("values", f"must be distinct; repeated: {', '.join(repeated)}")] if repeated else []
        return problems + _when_problems(self.when)

    def _reject(self, value: object, name: str) -> str | None:
        if not isinstance(value, str):
            return _not_a_category(value) or f"must be a string, got {_show(value)}"
        if value not in self.values:
            return f"{value!r} is not one of {name}'s values ({', '.join(self.values)})"
        return None


Parameter = Annotated[Union[DoubleParameter, IntegerParameter, DiscreteParameter, CategoricalParameter],
                      Field(discriminator="type")]
_PARAMETER_TYPES = {"double": DoubleParameter, "integer": IntegerParameter, "discrete": DiscreteParameter,
                    "categorical": CategoricalParameter}


class Trials(_Model):
    """How many trials run in all, at once, and how many may fail before the sweep stops."""

    max: int = Field(ge=1)
    parallel: int = Field(default=1, ge=1)
    max_failed: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = []
        if self.parallel > self.max:
            problems.append(("parallel", f"must be at most max ({self.max}), got {self.parallel}"))
        if self.max_failed is not None and self.max_failed < 1:
            problems.append(("max_failed", f"must be >= 1: the sweep stops when this many trials have failed; "
                                           f"leave it out never to stop for failures, got {self.max_failed}"))
        _raise_if(problems)
        return self

    @property
    def failure_limit(self) -> int:
        """Failed trials that stop the sweep: ``max_failed``, or ``max`` when unset (all trials failing is the
        only way to reach it, so it never stops a sweep early). At most ``max``."""
        return self.max if self.max_failed is None else min(self.max_failed, self.max)


class TrainerCommand(_Model):
    """What a trial runs: ``command`` locally (the image's entrypoint on Vertex AI) plus ``args``."""

    command: list[str] = Field(default_factory=lambda: ["python", "-m", "trainer"], min_length=1)
    args: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _raise_if([(f"args[{i}]", f"unknown placeholder {{{name}}}; only {{data}} is supported")
                   for i, arg in enumerate(self.args) for name in _PLACEHOLDER.findall(arg) if name != "data"])
        return self


class VertexResources(_Model):
    """The machine each Vertex AI trial runs on."""

    machine_type: str = Field(default="n1-standard-4", min_length=1)
    accelerator_type: str | None = Field(default=None, min_length=1)
    accelerator_count: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = []
        if self.accelerator_count > 0 and self.accelerator_type is None:
            problems.append(("accelerator_type", f"is required when accelerator_count is {self.accelerator_count}"))
        if self.accelerator_count == 0 and self.accelerator_type is not None:
            problems.append(("accelerator_count", f"must be > 0 when accelerator_type is {self.accelerator_type!r} "
                                                  "(leave accelerator_type out for none)"))
        if not problems and (why := machine_problem(self.machine_type, self.accelerator_type, self.accelerator_count)):
            problems.append(("accelerator_type" if self.accelerator_type else "machine_type", why))
        _raise_if(problems)
        return self


class Spec(_Model):
    """One sweep: what to tune, how to search, what each trial runs and on which machine."""

    name: Annotated[str, AfterValidator(_name)]
    metric: Metric
    parameters: dict[Annotated[str, AfterValidator(_identifier)], Parameter] = Field(min_length=1, max_length=100)
    algorithm: Literal["adaptive", "random", "grid"] = "adaptive"
    measurement: Literal["best", "last"] = "best"
    early_stopping: Literal["none", "median", "decay_curve"] = "none"
    trials: Trials
    trainer: TrainerCommand = Field(default_factory=TrainerCommand)
    vertex: VertexResources = Field(default_factory=VertexResources)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = self._condition_problems()
        doubles = [pid for pid, p in self.parameters.items() if isinstance(p, DoubleParameter)]
        if self.algorithm == "grid" and doubles:
            problems.append(("algorithm", "grid needs every parameter integer, discrete or categorical; "
                                          f"double: {', '.join(doubles)}"))
        for i, arg in enumerate(self.trainer.args):
            flag = arg.split("=", 1)[0]
            if flag.startswith("--") and flag[2:] in self.parameters:
                problems.append((f"trainer.args[{i}]", f"sets {flag}, which the tuner appends for parameter "
                                                       f"{flag[2:]}; remove it from args"))
        _raise_if(problems)
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
        """Warnings about a valid spec that will likely waste trials (the seed lesson's guidance)."""
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


MAX_SPEC_BYTES = 1_000_000
MAX_NODES = 100_000  # values a spec may expand to; aliases of aliases ("billion laughs") would go far past it


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads ``1e-4`` as a number (as YAML 1.2 does) and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                              list("-+.0123456789"))


class _TooBig(ValueError):
    """A document that expands past MAX_NODES values."""


def _load_yaml(text: str) -> object:
    """The document, once its expanded size (aliases counted each time they are used) is known to be small."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        sizes: dict[int, int] = {}

        def size(node: yaml.Node) -> int:
            if id(node) not in sizes:
                sizes[id(node)] = 1  # a node that contains itself counts once
                children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
                    else node.value if isinstance(node, yaml.SequenceNode) else []
                sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(size(child) for child in children))
            return sizes[id(node)]

        if size(root) > MAX_NODES:
            raise _TooBig(f"the YAML expands to more than {MAX_NODES:,} values (aliases of aliases?); write the "
                          "values out")
        return loader.construct_document(root)
    finally:
        loader.dispose()


def load_runnable_spec(path: str | Path) -> Spec:
    """``load_spec``, and the metric must be one the trainer reports when it is the reference trainer (a
    check on what runs, not on the file's shape: a test may point the command elsewhere)."""
    spec = load_spec(path)
    if why := unreported_metric(spec.trainer.command, spec.metric.id):
        raise SpecError(str(path), [("metric.id", why)])
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; SpecError names the file, the field and the reason."""
    source = str(path)
    try:
        if Path(path).stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(source, [("", f"the file is {Path(path).stat().st_size:,} bytes; a spec is at most "
                                          f"{MAX_SPEC_BYTES:,}")])
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(source, [("", "cannot read the file: it is not UTF-8 text")]) from None
    except OSError as exc:
        raise SpecError(source, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        data = _load_yaml(text)
    except _TooBig as exc:
        raise SpecError(source, [("", str(exc))]) from None
    except RecursionError:
        raise SpecError(source, [("", "the YAML is nested too deeply to be a spec")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(source, [(where, f"YAML syntax error: {getattr(exc, 'problem', None) or exc}")]) from None
    return parse_spec(data, source)


def parse_spec(data: object, source: str) -> Spec:
    """Validate an already-loaded mapping; ``source`` names the file in messages."""
    if not isinstance(data, dict):
        raise SpecError(source, [("", "expected a mapping with name, metric, parameters and trials, "
                                      f"got {_show(data)}")])
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, _translate(exc)) from None


def _translate(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        path = _path(err["loc"])
        error = err.get("ctx", {}).get("error")
        if isinstance(error, _Problems):
            problems += [(_join(path, sub), reason) for sub, reason in error.problems]
        elif err["type"].startswith("union_tag"):
            problems.append((_join(path, "type"), _reason(err)))
        else:
            problems.append((path, _reason(err)))
    return problems


def _path(loc: tuple[str | int, ...]) -> str:
    parts = list(loc)
    if len(parts) >= 3 and parts[0] == "parameters" and parts[2] in _PARAMETER_TYPES:
        del parts[2]  # the union's tag
    path = ""
    for part in parts:
        if part != "[key]":
            path = _join(path, f"[{part}]" if isinstance(part, int) else part)
    return path


def _join(path: str, sub: str) -> str:
    if not path or not sub:
        return path or sub
    return path + sub if sub.startswith("[") else f"{path}.{sub}"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    parent = loc[:-1]
    if not parent:
        return list(Spec.model_fields)
    if parent[0] == "parameters":
        return list(_PARAMETER_TYPES[str(parent[-1])].model_fields)
    sections = {"metric": Metric, "trials": Trials, "trainer": TrainerCommand, "vertex": VertexResources}
    return list(sections[str(parent[0])].model_fields)


def _reason(err: Any) -> str:
    """Plain English for one pydantic error."""
    kind, ctx, got = err["type"], err.get("ctx", {}), _show(err.get("input"))
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(err["loc"])
        close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key; {hint}allowed keys: {', '.join(allowed)}"
    if kind == "int_type":
        return f"must be an integer, got {got}"
    if kind == "float_type":
        return f"must be a number, got {got}"
    if kind == "finite_number":
        return f"must be a finite number, got {got}"
    if kind == "string_type":
        return f"must be a string, got {got}" + (f": {_BOOLEAN}" if isinstance(err.get("input"), bool) else "")
    if kind == "list_type":
        return f"must be a list, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):  # a dict, a section, a parameter
        return f"must be a mapping, got {got}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, got {got}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}, got {got}"
    if kind in ("too_short", "string_too_short"):  # every minimum length is 1
        return "must not be empty"
    if kind == "too_long":
        return f"has {len(err['input'])} items; at most {ctx['max_length']} are allowed"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx['expected_tags']}, got {ctx['tag']!r}"
    if kind == "union_tag_not_found":
        return f"required, but missing (one of {', '.join(map(repr, _PARAMETER_TYPES))})"
    if kind == "value_error":
        return str(ctx["error"])
    return err["msg"]
