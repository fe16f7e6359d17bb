"""The one interface every backend implements, and the one place a backend is chosen (jobs/registry.py knows them).

A backend checks a spec's section of its own, plans, runs (or submits) and resumes sweeps, and shows, stops and
lists a run's trials. The ``local`` backend runs trials on this machine (jobs/local/), ``vertex`` as a Vertex AI
hyperparameter tuning job (jobs/vertex/); neither imports the other, and the spec, run and report modules know
neither. A new run's backend is the ``--backend`` flag; an existing run's is the one its run.json names.

Adding a backend is a package that implements ``Backend`` plus its registration (jobs/registry.py):
docs/architecture.md, "How to add a backend".
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from rich.console import Console

from jobs.errors import UserError
from jobs.registry import HOW_TO_ADD, registered
from jobs.run.folder import RUNS_DIR, RunFolder
from jobs.run.outcome import Line

if TYPE_CHECKING:
    from jobs.run.outcome import Notes, Outcome
    from jobs.spec import Spec
    from jobs.trial.record import TrialRecord


Options = TypeVar("Options")
# What a resumed run takes from the request, with each backend's ``resumable``: a resume keeps the rest as recorded.
ON_RESUME = frozenset({"resume", "runs_dir", "dry_run", "run"})


@dataclass(frozen=True)
class TuneRequest:
    """What ``invoke tune`` asks for: the fields every backend takes, and ``options``, the flags given (by name) that
    only some backend takes. Each backend declares its own in ``Backend.options``; ``tune`` refuses one that the
    chosen backend does not declare."""

    spec: str | None = None  # the spec file; None: the built-in default
    run_id: str | None = None
    resume: str | None = None  # a run to carry on (local) or re-attach to (vertex)
    trials: int | None = None
    parallel: int | None = None
    smoke: bool = False
    dry_run: bool = False
    data_root: str | None = None
    trial_timeout: float | None = None
    runs_dir: Path = RUNS_DIR
    options: Mapping[str, object] = field(default_factory=dict)  # only the flags given: none is None or False
    run: RunFolder | None = None  # the folder of ``resume``, opened by ``tune``: its run.json is read once

    def options_for(self, kind: type[Options]) -> Options:
        """The backend options of this request as the backend's own ``options`` class."""
        return kind(**self.options)


class Backend(Protocol):
    """Where trials run. A command returns what it has to say as data (jobs/run/outcome.py), which the console
    renders; while it runs it says what it is doing through ``notes``."""

    name: ClassVar[str]
    options: ClassVar[type]  # a dataclass of the TuneRequest options this backend takes (none: an empty one)
    resumable: ClassVar[frozenset[str]]  # those of its options a resumed run may change

    def check(self, spec: Spec, source: str) -> object:
        """Refuse (SpecError naming ``source``) a spec this backend cannot run: its own section (``spec.section(
        name)``) and its rules between it and the rest. Called once by each command on the spec it loads; what it
        returns (the Vertex backend: the spec with its section validated) is what the command passes along."""
        ...

    def plan(self, request: TuneRequest, notes: Notes) -> Outcome:
        """Validate and say what would run; run nothing."""
        ...

    def sweep(self, request: TuneRequest, notes: Notes) -> Outcome:
        """Run (or submit) a new sweep, or carry on ``request.resume``; name the best trial at the end."""
        ...

    def status(self, folder: RunFolder, notes: Notes) -> Outcome:
        """A run's trials and where it stands."""
        ...

    def cancel(self, folder: RunFolder, notes: Notes) -> Outcome:
        """Stop a running sweep; what finished stays."""
        ...

    def records(self, folder: RunFolder, spec: Spec, notes: Notes) -> list[TrialRecord]:
        """Every trial of a run, for the report; what it has to say while it reads them (a retry) goes to
        ``notes``."""
        ...


def backend(name: str) -> Backend:
    """The backend called ``name``, with its production settings."""
    known = registered()
    if name not in known:
        raise UserError(f"unknown backend {name!r}: the backends here are {', '.join(known)}; {HOW_TO_ADD}")
    module, _, cls = known[name].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)()
    except ModuleNotFoundError as exc:  # an extra this install left out (pyproject.toml)
        raise UserError(f"the {name} backend needs {exc.name}, which this environment lacks: `make install` "
                        f"installs it (or pip install -e '.[{name}]')") from None


def tune(request: TuneRequest, name: str | None, console: Console, choose=backend) -> int:
    """Plan, run or resume a sweep on the backend ``name`` (default local); a resumed run keeps its own."""
    if request.resume:
        request = dataclasses.replace(request, run=RunFolder.open(request.resume, request.runs_dir))
        recorded = request.run.meta().backend
        if name not in (None, recorded):
            raise UserError(f"run {request.resume} ran on the {recorded} backend; resume it without --backend "
                            f"or with --backend {recorded}")
        name = recorded
    chosen = choose(name or "local")
    takes = {f.name for f in dataclasses.fields(chosen.options)}
    for option in sorted(set(request.options) - takes):
        raise UserError(f"--{option.replace('_', '-')} is not for the {chosen.name} backend; `invoke --help tune` "
                        "says which backend takes each flag")
    from jobs.console.render import ConsoleNotes, show

    notes = ConsoleNotes(console)
    if request.resume and (kept := sorted(_given(request) - ON_RESUME - chosen.resumable)):
        flags = ", ".join(f"--{option.replace('_', '-')}" for option in kept)
        notes.print(Line(f" {flags} left as run {request.resume} recorded them (its run.json and spec.yaml): a "
                         "resumed run keeps its own; start a new run to change them", "note:", "yellow"))
    return show(chosen.plan(request, notes) if request.dry_run else chosen.sweep(request, notes), console)


def on_run(action: str, run_id: str, console: Console, runs_dir: Path = RUNS_DIR, choose=backend) -> int:
    """``status`` or ``cancel`` a run on the backend its run.json names."""
    folder = RunFolder.open(run_id, runs_dir)
    chosen = choose(folder.meta().backend)
    from jobs.console.render import ConsoleNotes, show

    notes = ConsoleNotes(console)
    return show(chosen.status(folder, notes) if action == "status" else chosen.cancel(folder, notes), console)


def _given(request: TuneRequest) -> set[str]:
    """The request's fields that differ from their defaults, and its options."""
    common = {f.name for f in dataclasses.fields(request) if f.name != "options"
              and getattr(request, f.name) != f.default}
    return common | set(request.options)
