"""A run's Optuna journal after a fault: damaged lines found, set aside (kept), and the rest read as usual.

The journal is JSON lines, each appended and fsynced whole (optuna.storages.journal.JournalFileBackend). A
full disk or a power cut can leave half a line at the end; the next append then glues a whole line onto
it, and Optuna stops at that line for good. Each damaged line is split: the whole record that ends it (a
record starts with ``{"op_code"``) stays, the torn bytes before it go to ``study.journal.torn-<time>``.

A line edited or written by something else can be valid JSON and still no record Optuna's replay can apply
(``[]``, ``{}``, an unknown op code, a field missing or of another type): the replay stops there with an
AssertionError, TypeError or KeyError. Such a line is not whole either, and goes aside the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from optuna.distributions import json_to_distribution
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from jobs.run.folder import write_atomically

RECORD_START = b'{"op_code"'


def _time(text: str) -> str:
    dt.datetime.fromisoformat(text)  # ValueError when it is not one
    return text


def _step(text: str) -> str:
    int(text)  # an intermediate value's step, a JSON key
    return text


def _external(distribution: str, internal: float) -> None:
    """Raise ValueError unless ``internal`` is a value of ``distribution`` (a distribution's JSON) as Optuna reads
    it back."""
    try:
        json_to_distribution(distribution).to_external_repr(internal)
    except Exception as exc:  # whatever Optuna's parser trips on: KeyError, IndexError, TypeError, ...
        raise ValueError(f"not a value of {distribution}: {internal!r} ({type(exc).__name__})") from None


def _distribution(text: str) -> str:
    _external(text, 0.0)  # every distribution converts 0.0 (a categorical: to its first choice)
    return text


Time = Annotated[str, AfterValidator(_time)]
Step = Annotated[str, AfterValidator(_step)]
Distribution = Annotated[str, AfterValidator(_distribution)]
Attribute = Annotated[dict[str, Any], Field(min_length=1, max_length=1)]  # the replay asserts one key
TrialStateCode = Literal[0, 1, 2, 3, 4]  # optuna.trial.TrialState: RUNNING, COMPLETE, PRUNED, FAIL, WAITING
ABSENT = Field(None, validate_default=False)  # may be left out; when given, of its type (null is not)


class _Op(BaseModel):
    """What every record holds. The fields below each op code are those JournalStorageReplayResult's
    ``_apply_*`` read (optuna/storages/journal/_storage.py, Optuna 5.1), typed as JournalStorage writes them."""

    model_config = ConfigDict(strict=True, extra="allow")  # the replay ignores fields it does not read
    worker_id: str


class _CreateStudy(_Op):
    op_code: Literal[0]
    study_name: str
    directions: list[Literal[0, 1, 2]]  # optuna.study.StudyDirection


class _DeleteStudy(_Op):
    op_code: Literal[1]
    study_id: int


class _SetStudyUserAttr(_Op):
    op_code: Literal[2]
    study_id: int
    user_attr: Attribute


class _SetStudySystemAttr(_Op):
    op_code: Literal[3]
    study_id: int
    system_attr: Attribute


class _CreateTrial(_Op):
    op_code: Literal[4]
    study_id: int
    datetime_start: Time | None
    datetime_complete: Time = ABSENT
    state: TrialStateCode = 0
    distributions: dict[str, Distribution] = {}
    params: dict[str, float] = {}
    user_attrs: dict[str, Any] = {}
    system_attrs: dict[str, Any] = {}
    value: float | None = None
    values: list[float] | None = None
    intermediate_values: dict[Step, float] = {}

    @model_validator(mode="after")
    def _params_fit_their_distributions(self) -> _CreateTrial:
        for name, internal in self.params.items():
            if name not in self.distributions:
                raise ValueError(f"parameter {name!r} has no distribution")
            _external(self.distributions[name], internal)
        return self


class _SetTrialParam(_Op):
    op_code: Literal[5]
    trial_id: int
    param_name: str
    param_value_internal: float
    distribution: str

    @model_validator(mode="after")
    def _value_fits_its_distribution(self) -> _SetTrialParam:
        _external(self.distribution, self.param_value_internal)
        return self


class _SetTrialStateValues(_Op):
    op_code: Literal[6]
    trial_id: int
    state: TrialStateCode
    values: list[float] | None
    datetime_start: Time = ABSENT
    datetime_complete: Time = ABSENT

    @model_validator(mode="after")
    def _times_the_state_needs(self) -> _SetTrialStateValues:
        if self.state == 0 and self.datetime_start is None:
            raise ValueError("a running trial needs datetime_start")
        if self.state in (1, 2, 3) and self.datetime_complete is None:
            raise ValueError("a finished trial needs datetime_complete")
        return self


class _SetTrialIntermediateValue(_Op):
    op_code: Literal[7]
    trial_id: int
    step: int
    intermediate_value: float


class _SetTrialUserAttr(_Op):
    op_code: Literal[8]
    trial_id: int
    user_attr: Attribute


class _SetTrialSystemAttr(_Op):
    op_code: Literal[9]
    trial_id: int
    system_attr: Attribute


class _DiscardTrials(_Op):
    op_code: Literal[10]  # the replay skips it


RECORD = TypeAdapter(Annotated[
    _CreateStudy | _DeleteStudy | _SetStudyUserAttr | _SetStudySystemAttr | _CreateTrial | _SetTrialParam
    | _SetTrialStateValues | _SetTrialIntermediateValue | _SetTrialUserAttr | _SetTrialSystemAttr | _DiscardTrials,
    Field(discriminator="op_code")])


def split_torn(data: bytes) -> tuple[bytes, bytes]:
    """(the journal's whole records, the damaged bytes set aside), from the journal's bytes."""
    kept, torn = [], []
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or half a record
    if tail:
        torn.append(tail)
    for line in lines:
        if _whole(line):
            kept.append(line)
            continue
        start = line.rfind(RECORD_START)
        if start > 0 and _whole(line[start:]):
            torn.append(line[:start])
            kept.append(line[start:])
        elif line:
            torn.append(line)
    return b"".join(k + b"\n" for k in kept), b"\n".join(torn)


def _whole(line: bytes) -> bool:
    """Whether ``line`` is a record Optuna's replay can apply."""
    try:
        RECORD.validate_python(json.loads(line))
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError and ValidationError are ValueErrors
        return False
    return True


def repair(path: Path) -> Path | None:
    """Set the damaged bytes of the journal at ``path`` aside, beside it, and rewrite it whole (atomically); returns
    the file holding them, or None when there were none. Call it only while holding the run's lock."""
    if not path.exists():
        return None
    good, torn = split_torn(path.read_bytes())
    if not torn:
        return None
    aside = path.with_name(f"{path.name}.torn-{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}")
    with open(aside, "wb") as handle:
        handle.write(torn)
        handle.flush()
        os.fsync(handle.fileno())
    write_atomically(path, good.decode("utf-8", "replace"))
    return aside
