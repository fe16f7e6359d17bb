"""Sweeps as `invoke tune`, `status`, `cancel` and `report` run them (through jobs.backends), with the backend
a test configures: the local one warm or cold, the Vertex one pointed at a stand-in."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from jobs import backends
from jobs.backends import Backend, TuneRequest
from jobs.console.render import ConsoleNotes
from jobs.console.text import user_console
from jobs.run.folder import RUNS_DIR, RunFolder
from jobs.spec import load_spec
from jobs.trial.record import TrialRecord


def tune_with(chosen: Backend, spec: str | None = None, *, console: Console | None = None, **fields) -> int:
    """`invoke tune` with ``chosen`` as the backend; ``fields`` are TuneRequest's, or else its options."""
    common = {f.name for f in dataclasses.fields(TuneRequest)}
    request = TuneRequest(spec=spec, **{k: v for k, v in fields.items() if k in common},
                          options={k: v for k, v in fields.items() if k not in common})
    return backends.tune(request, chosen.name, console or user_console(), choose=lambda name: chosen)


def tune_local(spec: str | None = None, *, warm: bool = True, console: Console | None = None, **fields) -> int:
    from jobs.local.backend import LocalBackend

    return tune_with(LocalBackend(warm), spec, console=console, **fields)


def on_run(chosen: Backend, action: str, run_id: str, console: Console, runs_dir=RUNS_DIR) -> int:
    """`invoke status` or `invoke cancel` with ``chosen`` as the run's backend."""
    return backends.on_run(action, run_id, console, runs_dir, choose=lambda name: chosen)


def records_of(chosen: Backend, run_id: str, runs_dir=RUNS_DIR, console: Console | None = None) -> list[TrialRecord]:
    """A run's trials as the report receives them; what the backend says meanwhile is printed on ``console``."""
    folder = RunFolder.open(run_id, runs_dir)
    return chosen.records(folder, load_spec(folder.spec_path), ConsoleNotes(console or user_console()))


def in_a_terminal() -> None:
    """A child's ``preexec_fn``: Ctrl-C's default action, as a process a terminal starts in the foreground has,
    whatever this test run inherited (a shell's background job, CI's among them, ignores SIGINT)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
