"""``invoke report``: pick the runs, collect their trials, write the report, print the summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from jobs.report.records import TrialRecord, local_records, under_artifacts_base
from jobs.runs import RunError, RunFolder
from jobs.spec import Spec, SpecError, load_spec


def report(run_ids: list[str], *, latest: bool, out: str | None, runs_dir: Path, console: Console) -> int:
    """Report local runs: one run into its folder (or ``out``), several runs as one comparison
    (into ``out``, default ``<runs_dir>/compare-<a>-vs-<b>``). A running sweep gives a partial report.
    Returns the exit status: 0, or 2 when a run cannot be found or read."""
    from jobs.report.collect import collect
    from jobs.report.write import write_comparison_report, write_sweep_report

    try:
        folders = [RunFolder.open(run_id, runs_dir) for run_id in pick_runs(run_ids, latest, runs_dir)]
        sweeps = []
        for folder in folders:
            spec = load_spec(folder.spec_path)
            sweeps.append(collect(folder.run_id, spec, local_records(folder, spec)))
    except (RunError, SpecError) as exc:
        console.print(f"[red]report:[/] {exc}", highlight=False)
        return 2
    if len(sweeps) == 1:
        write_sweep_report(sweeps[0], out or str(folders[0].root), console)
    else:
        write_comparison_report(sweeps, out or str(runs_dir / ("compare-" + "-vs-".join(s.run_id for s in sweeps))),
                                console)
    return 0


def report_gcs(records: list[TrialRecord], spec: Spec, artifacts_base: str, out: str, console: Console) -> int:
    """Report a Vertex AI run: ``records`` from the tuning job, metrics under
    ``artifacts_base`` (``gs://<bucket>/artifacts/<spec>/<run_id>/``); ``out`` a folder or gs:// prefix."""
    from jobs.report.collect import collect
    from jobs.report.write import write_sweep_report

    run_id = artifacts_base.rstrip("/").rsplit("/", 1)[-1]
    write_sweep_report(collect(run_id, spec, under_artifacts_base(records, artifacts_base)), out, console)
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
            created = RunFolder(meta.parent).meta().get("created", "")
        except ValueError:  # a half-written run.json: order it by file time alone
            created = ""
        found.append((created, meta.stat().st_mtime, meta.parent.name))
    return [name for *_, name in sorted(found, reverse=True)]
