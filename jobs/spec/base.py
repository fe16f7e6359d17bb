"""What every part of the spec shares: a strict pydantic base, and how a validator reports its problems.

A validator raises ``Problems`` with every (field path, reason) pair it found, so that one ``SpecError`` lists them
all; ``show`` writes a value in a reason as the user wrote it in YAML.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1
BOOLEAN = "YAML reads unquoted yes/no/on/off/true/false as booleans; quote it, e.g. \"yes\""


class StrictModel(BaseModel):
    """A part of the spec: unknown keys are errors, values are not converted from other types, nan and inf are
    refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @classmethod
    def allowed_keys(cls) -> list[str]:
        """The keys a user may write in this part, in the order a message lists them."""
        return list(cls.model_fields)


class Problems(ValueError):
    """Several problems found by one validator, each (path relative to the model, reason)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {reason}" if path else reason for path, reason in problems))
        self.problems = problems


def raise_if(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise Problems(problems)


def show(value: object) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
