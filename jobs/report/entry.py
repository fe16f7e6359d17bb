"""``invoke report``: pick the runs, collect their trials, write the report, print the summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from jobs.backends import backend
from jobs.console.text import styled, user_console
from jobs.run.folder import RunError, RunFolder
from jobs.spec import SpecError, load_spec


def report(run_ids: list[str], *, latest: bool, out: str | None, runs_dir: Path, console: Console,
           choose=backend) -> int:
    """Report runs, local or Vertex AI: one run into its folder (or ``out``, a folder or gs:// prefix),
    several runs as one comparison (into ``out``, default ``<runs_dir>/`` + ``compare.folder_name``). A running
    sweep gives a partial report. Each run's trials come from the backend its run.json names (``choose``
    maps a backend's name to it); what a backend says while it reads them (a retry) goes to stderr. Returns the exit
    status: 0, or 2 when a run cannot be found or read."""
    from jobs.console.render import ConsoleNotes
    from jobs.report.collect import collect
    from jobs.report.compare import folder_name
    from jobs.report.write import write_comparison_report, write_sweep_report

    try:
        folders = [RunFolder.open(run_id, runs_dir) for run_id in pick_runs(run_ids, latest, runs_dir)]
        sweeps, notes = [], ConsoleNotes(user_console(stderr=True))
        for folder in folders:
            spec = load_spec(folder.spec_path)
            meta = folder.meta()
            records = choose(meta.backend).records(folder, spec, notes)
            sweeps.append(collect(folder.run_id, spec, records, hourly_cost=meta.hourly_cost,
                                  currency=meta.currency or "", max_cost=meta.max_cost))
    except (RunError, SpecError) as exc:
        console.print(styled("red", "report:", f" {exc}"), highlight=False)
        return 2
    for sweep in [s for s in sweeps if not s.records]:
        console.print(f"report: run {sweep.run_id} has no trials yet", highlight=False)
        sweeps.remove(sweep)
    if not sweeps:
        return 0
    if len(sweeps) == 1:
        folder = next(f for f in folders if f.run_id == sweeps[0].run_id)
        write_sweep_report(sweeps[0], out or str(folder.root), console)
    else:
        write_comparison_report(sweeps, out or str(runs_dir / folder_name([s.run_id for s in sweeps])), console)
    return 0


def pick_runs(run_ids: list[str], latest: bool, runs_dir: Path) -> list[str]:
    """The run ids named (each once), or the newest run with ``latest``."""
    if run_ids and latest:
        raise RunError("name run ids or use --latest, not both")
    if run_ids:
        return list(dict.fromkeys(run_ids))
    runs = _runs_newest_first(runs_dir)
    if not runs:
        raise RunError(f"no runs in {runs_dir}/: start one with invoke tune")
    if latest:
        return [runs[0]]
    raise RunError(f"name a run id or use --latest; newest runs in {runs_dir}/: {', '.join(runs[:5])}")


def _runs_newest_first(runs_dir: Path) -> list[str]:
    """Run folders (those with run.json), newest first by their creation record, then file time."""
    found = []
    for meta in runs_dir.glob("*/run.json"):
        try:
            created = RunFolder(meta.parent).meta().created
        except RunError:  # a damaged run.json: order it by file time alone (reporting it says what is wrong)
            created = ""
        found.append((created, meta.stat().st_mtime, meta.parent.name))
    return [name for *_, name in sorted(found, reverse=True)]
