"""Turning pydantic's validation errors into a ``SpecError``: one line per problem, ``<file>: <field.path>:
<reason>``, the reason in plain English (with "did you mean" for a mistyped key)."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from jobs.errors import UserError
from jobs.spec.base import BOOLEAN, Problems, StrictModel, show
from jobs.spec.model import SECTIONS, Spec
from jobs.spec.parameters import PARAMETER_TYPES


class SpecError(UserError, ValueError):
    """A spec that cannot be used. ``problems`` holds (path, reason) pairs; the path is a dotted
    field path (``parameters.learning_rate.min``, ``trainer.args[1]``), a YAML position, or empty
    when the problem is the whole file. ``str(err)`` has one line per problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {reason}" if path else f"{source}: {reason}"
                                   for path, reason in problems))


def translate(exc: ValidationError, model: type[StrictModel] = Spec, prefix: str = "") -> list[tuple[str, str]]:
    """Every problem of ``exc`` as (field path, reason), a validator's ``Problems`` each in its own pair; ``model``
    is what was validated, ``prefix`` the path of its section in the spec (a backend's: ``vertex``)."""
    problems = []
    for err in exc.errors():
        path = _join(prefix, _path(err["loc"]))
        error = err.get("ctx", {}).get("error")
        if isinstance(error, Problems):
            problems += [(_join(path, sub), reason) for sub, reason in error.problems]
        elif err["type"].startswith("union_tag"):
            problems.append((_join(path, "type"), _reason(err, model)))
        else:
            problems.append((path, _reason(err, model)))
    return problems


def _path(loc: tuple[str | int, ...]) -> str:
    parts = [part for part in loc if part != SECTIONS]  # a backend's section is written at the top of the spec
    if len(parts) >= 3 and parts[0] == "parameters" and parts[2] in PARAMETER_TYPES:
        del parts[2]  # the union's tag
    path = ""
    for part in parts:
        if part != "[key]":
            path = _join(path, f"[{part}]" if isinstance(part, int) else _short(part))
    return path


def _short(key: str) -> str:
    """A key as a path shows it: at most 64 characters (a mistyped key can be any length)."""
    return key if len(key) <= 64 else f"{key[:61]}..."


def _join(path: str, sub: str) -> str:
    if not path or not sub:
        return path or sub
    return path + sub if sub.startswith("[") else f"{path}.{sub}"


def _allowed_keys(loc: tuple[str | int, ...], model: type[StrictModel]) -> list[str]:
    parent = loc[:-1]
    if not parent:
        return model.allowed_keys()
    if parent[0] == "parameters":
        return list(PARAMETER_TYPES[str(parent[-1])].model_fields)
    return list(model.model_fields[str(parent[0])].annotation.model_fields)  # a section: metric, trials, ...


# Reasons that need no more than the error's kind: formatted with ``got`` (the input as written) and its context.
_REASONS = {
    "missing": "required, but missing",
    "int_type": "must be an integer, got {got}",
    "float_type": "must be a number, got {got}",
    "finite_number": "must be a finite number, got {got}",
    "list_type": "must be a list, got {got}",
    **dict.fromkeys(["dict_type", "model_type", "model_attributes_type"],  # a dict, a section, a parameter
                    "must be a mapping, got {got}"),
    "literal_error": "must be {expected}, got {got}",
    "greater_than_equal": "must be >= {ge}, got {got}",
    "less_than_equal": "must be <= {le}, got {got}",
    **dict.fromkeys(["too_short", "string_too_short"], "must not be empty"),  # every minimum length is 1
    "union_tag_invalid": "must be one of {expected_tags}, got {tag!r}",
}


def _reason(err: Any, model: type[StrictModel]) -> str:
    """Plain English for one pydantic error."""
    kind, ctx, got = err["type"], err.get("ctx", {}), show(err.get("input"))
    if kind == "extra_forbidden":
        allowed = _allowed_keys(err["loc"], model)
        close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key; {hint}allowed keys: {', '.join(allowed)}"
    if kind == "string_type":
        return f"must be a string, got {got}" + (f": {BOOLEAN}" if isinstance(err.get("input"), bool) else "")
    if kind == "too_long":  # the context has no length for a mapping
        return f"has {len(err['input'])} items; at most {ctx['max_length']} are allowed"
    if kind == "union_tag_not_found":
        return f"required, but missing (one of {', '.join(map(repr, PARAMETER_TYPES))})"
    if kind == "value_error":
        return str(ctx["error"])
    return _REASONS[kind].format(got=got, **ctx) if kind in _REASONS else err["msg"]
