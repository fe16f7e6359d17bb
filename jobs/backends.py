"""The one interface both backends implement, and the one place a backend is chosen.

A backend plans, runs (or submits) and resumes sweeps, and shows, stops and lists a run's trials. The
``local`` backend runs trials on this machine (jobs/local/), ``vertex`` as a Vertex AI hyperparameter
tuning job (jobs/vertex/); neither imports the other. A new run's backend is the ``--backend`` flag; an
existing run's is the one its run.json names.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from rich.console import Console

from jobs.console.progress import styled
from jobs.errors import UserError
from jobs.run.folder import RUNS_DIR, RunFolder
from jobs.spec import Spec
from jobs.trial.record import TrialRecord

IMPLEMENTATIONS = {"local": "jobs.local.backend:LocalBackend", "vertex": "jobs.vertex.backend:VertexBackend"}


@dataclass(frozen=True)
class TuneRequest:
    """What ``invoke tune`` asks for. The first group is for every backend; each backend names the rest
    it takes in ``Backend.options``, and a flag given to a backend that does not take it is refused."""

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
    # local
    seed: int | None = None
    # vertex
    stack: str | None = None
    outputs: str | None = None
    detach: bool = False
    minutes_per_trial: float | None = None
    prices: str | None = None
    max_cost: float | None = None  # overrides trials.max_cost


COMMON = frozenset({"spec", "run_id", "resume", "trials", "parallel", "smoke", "dry_run", "data_root", "trial_timeout",
                    "runs_dir"})
ON_RESUME = frozenset({"resume", "runs_dir", "dry_run", "detach", "max_cost"})  # a resumed run keeps the rest


class Backend(Protocol):
    """Where trials run. Each method returns the exit status for the task (``records`` excepted)."""

    name: ClassVar[str]
    options: ClassVar[frozenset[str]]  # TuneRequest fields beyond COMMON that this backend takes

    def plan(self, request: TuneRequest, console: Console) -> int:
        """Validate and print what would run; run nothing."""
        ...

    def run(self, request: TuneRequest, console: Console) -> int:
        """Run (or submit) a new sweep, or carry on ``request.resume``; name the best trial at the end."""
        ...

    def status(self, folder: RunFolder, console: Console) -> int:
        """Print a run's trials and where it stands."""
        ...

    def cancel(self, folder: RunFolder, console: Console) -> int:
        """Stop a running sweep; what finished stays."""
        ...

    def records(self, folder: RunFolder, spec: Spec) -> list[TrialRecord]:
        """Every trial of a run, for the report."""
        ...


def backend(name: str) -> Backend:
    """The backend called ``name``, with its production settings."""
    if name not in IMPLEMENTATIONS:
        raise UserError(f"unknown backend {name!r}: {' or '.join(IMPLEMENTATIONS)}")
    module, _, cls = IMPLEMENTATIONS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)()
    except ModuleNotFoundError as exc:  # an extra this install left out (pyproject.toml)
        raise UserError(f"the {name} backend needs {exc.name}, which this environment lacks: `make install` "
                        f"installs it (or pip install -e '.[{name}]')") from None


def tune(request: TuneRequest, name: str | None, console: Console, choose=backend) -> int:
    """Plan, run or resume a sweep on the backend ``name`` (default local); a resumed run keeps its own."""
    if request.resume:
        recorded = RunFolder.open(request.resume, request.runs_dir).meta().backend
        if name not in (None, recorded):
            raise UserError(f"run {request.resume} ran on the {recorded} backend; resume it without --backend "
                            f"or with --backend {recorded}")
        name = recorded
    chosen = choose(name or "local")
    for option in sorted(_given(request) - COMMON - chosen.options):
        raise UserError(f"--{option.replace('_', '-')} is not for the {chosen.name} backend; `invoke --help tune` "
                        "says which backend takes each flag")
    if request.resume and (kept := sorted(_given(request) - ON_RESUME)):
        flags = ", ".join(f"--{option.replace('_', '-')}" for option in kept)
        console.print(styled("yellow", "note:", f" {flags} left as run {request.resume} recorded them (its "
                                                "run.json and spec.yaml): a resumed run keeps its own; start a new "
                                                "run to change them"), soft_wrap=True)
    return chosen.plan(request, console) if request.dry_run else chosen.run(request, console)


def on_run(action: str, run_id: str, console: Console, runs_dir: Path = RUNS_DIR, choose=backend) -> int:
    """``status`` or ``cancel`` a run on the backend its run.json names."""
    folder = RunFolder.open(run_id, runs_dir)
    chosen = choose(folder.meta().backend)
    return chosen.status(folder, console) if action == "status" else chosen.cancel(folder, console)


def _given(request: TuneRequest) -> set[str]:
    """The request's fields that differ from their defaults."""
    return {f.name for f in dataclasses.fields(request) if getattr(request, f.name) != f.default}
