"""A run folder: ``runs/<run_id>/`` holds the spec, the study, trial logs and artifacts.

    runs/<run_id>/run.json             what ran (RunMeta): backend, spec, data root, budget, created
    runs/<run_id>/spec.yaml            the spec as it was when the run started (resume uses it)
    runs/<run_id>/study.journal        Optuna's journal storage: every change to every trial, durable
    runs/<run_id>/trials/<id>/         log.txt and hypertune.jsonl of trial <id>
    runs/<run_id>/artifacts/<id>/model AIP_MODEL_DIR of trial <id>
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from jobs.errors import UserError

RUNS_DIR = Path("runs")
# One folder name under runs/, on any backend: no path, no hidden folder. A backend may ask more of it in its own
# check (the Vertex AI backend: a label value), docs/decisions.md.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
META = "run.json"
META_VERSION = 1
M = TypeVar("M", bound="RunMeta")


class RunMeta(BaseModel):
    """``run.json``: what every run records. A backend keeps its own fields beside these (its subclass reads
    them: ``LocalRun``, ``VertexRun``); files written before ``version`` existed are version 1."""

    model_config = ConfigDict(extra="allow", frozen=True)

    version: int = META_VERSION
    run_id: str
    backend: str
    spec: str  # the spec file the run started from; the run's own copy is spec.yaml
    data_root: str
    trials: int  # the budget as the run started (after --trials, --parallel, --smoke)
    parallel: int
    created: str = ""  # ISO time, to the second
    hourly_cost: float | None = None  # one trial's price per hour, where trials are billed (Vertex AI)
    currency: str | None = None
    max_cost: float | None = None  # the ceiling the run was submitted with

    def of(self, kind: type[M]) -> M:
        """This record read as a backend's own (its fields checked); a RunError names what is wrong."""
        try:
            return kind.model_validate(self.model_dump())
        except ValidationError as exc:
            raise RunError(f"the {META} of run {self.run_id} is damaged ({_first_problem(exc)}): restore it from "
                           "a backup, or start a new run") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(map(str, error['loc'])) or 'the record'}: {error['msg']}"


class RunError(UserError, RuntimeError):
    """The run folder is missing, busy or not a run."""


def check_run_id(run_id: str) -> str:
    """A run id names one folder under runs/ and never a path: 1-100 of letters, digits, '.', '_' and '-', starting
    with a letter or digit."""
    if not RUN_ID.fullmatch(run_id):
        raise RunError(f"run id {run_id!r} must be 1-100 characters of letters, digits, '.', '_' and '-', starting "
                       "with a letter or digit (it names a folder under runs/): pick another --run-id")
    return run_id


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename it over ``path``: a reader sees
    the old file or the new one, never half of one, whatever happens in between."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def new_run_id(spec_name: str, now: dt.datetime | None = None) -> str:
    """``<spec name>-<YYYYmmdd-HHMMSS>``."""
    return f"{spec_name}-{(now or dt.datetime.now()).strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    @property
    def journal(self) -> Path:
        return self.root / "study.journal"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    def trial_dir(self, trial_id: str) -> Path:
        """The folder of trial ``trial_id``'s log and reports, made when first asked for."""
        path = self.trials / trial_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log(self, trial_id: str) -> Path:
        """What trial ``trial_id`` printed, after the command it ran."""
        return self.trials / trial_id / "log.txt"

    def metric_file(self, trial_id: str) -> Path:
        """Trial ``trial_id``'s hypertune file (CLOUD_ML_HP_METRIC_FILE)."""
        return self.trials / trial_id / "hypertune.jsonl"

    def artifact_dir(self, trial_id: str) -> Path:
        return self.artifacts / trial_id

    def meta(self) -> RunMeta:
        """run.json, read at the first call and kept with this folder (``record`` keeps what it writes), so a command
        that passes its folder along reads it once; a missing, unreadable or damaged one is a RunError that says so."""
        if "_meta" not in self.__dict__:
            object.__setattr__(self, "_meta", self._read_meta())
        return self.__dict__["_meta"]

    def _read_meta(self) -> RunMeta:
        path = self.root / META
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            runs = sorted(p.parent.name for p in self.root.parent.glob(f"*/{META}"))
            known = f"runs there: {', '.join(runs[-5:])}" if runs else "start one with: invoke tune"
            raise RunError(f"{self.root}: not a run folder (no {META}); {known}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{path} is damaged ({exc}): it is not the record this tool writes; restore it from a "
                           "backup, or start a new run") from None
        if not isinstance(data, dict) or "backend" not in data:
            raise RunError(f"{path} is damaged (not a run record with a backend): restore it from a backup, or "
                           "start a new run")
        try:
            meta = RunMeta.model_validate({"run_id": self.run_id, **data})
        except ValidationError as exc:
            raise RunError(f"{path} is damaged ({_first_problem(exc)}): restore it from a backup, or start a new "
                           "run") from None
        if meta.version > META_VERSION:
            raise RunError(f"{path} is version {meta.version}, newer than this tool reads ({META_VERSION}): "
                           "update the tool, or report the run with the version that made it")
        return meta

    @classmethod
    def create(cls, spec_file: Path, meta: RunMeta, runs_dir: Path = RUNS_DIR) -> RunFolder:
        """A new run folder holding a copy of the spec and ``meta``; refuses to adopt one that holds files."""
        run_id = meta.run_id
        root = runs_dir / check_run_id(run_id)
        if (root / META).exists():
            raise RunError(f"run {run_id} exists already in {runs_dir}: resume it with --resume {run_id}")
        if root.exists() and any(root.iterdir()):
            raise RunError(f"{root} already holds files but no {META} (a run whose record was lost, or not a run): "
                           f"it is not adopted, so its trials cannot mix with a new run's. Move it away "
                           f"(mv {root} {root}.old) or pick another --run-id")
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(spec_file, root / "spec.yaml")
        except OSError as exc:
            raise RunError(f"cannot write the run folder {root}: {exc.strerror or exc}") from None
        folder = cls(root)
        folder.record(meta)
        return folder

    def record(self, meta: RunMeta) -> None:
        """Write ``meta`` as run.json, atomically: a reader sees the old record or the new one."""
        try:
            write_atomically(self.root / META, meta.model_dump_json(indent=2) + "\n")
        except OSError as exc:
            raise RunError(f"cannot write {self.root / META}: {exc.strerror or exc}") from None
        object.__setattr__(self, "_meta", meta)

    @staticmethod
    def recorded(run_id: str, runs_dir: Path = RUNS_DIR) -> bool:
        """Whether ``run_id`` has a run folder with its record under ``runs_dir``."""
        return (runs_dir / run_id / META).exists()

    @classmethod
    def open(cls, run_id: str, runs_dir: Path = RUNS_DIR) -> RunFolder:
        folder = cls(runs_dir / check_run_id(run_id))
        folder.meta()
        return folder


class RunLock:
    """One orchestrator per run: an flock on ``<run>/.lock`` that dies with its process."""

    def __init__(self, folder: RunFolder):
        self._path = folder.root / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode().strip() or "another process"
            os.close(fd)
            raise RunError(f"{self._path.parent.name} is being run by pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(folder: RunFolder) -> int | None:
        """The pid of the orchestrator running ``folder`` now, or None. Only reads (a read-only runs/ works):
        an flock can be tried through a descriptor opened for reading."""
        try:
            fd = os.open(folder.root / ".lock", os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            return int(os.read(fd, 32).decode().strip() or 0) or None
        finally:
            os.close(fd)
