"""A report's files (trials.csv, report.md, report.html, plots/*.png) written to a local folder or a
``gs://`` prefix, with the terminal summary."""

from __future__ import annotations

from rich.console import Console

from jobs.cloud import storage
from jobs.report.collect import CollectedRun
from jobs.report.compare import best_trials_frame, side_by_side
from jobs.report.markdown import comparison_markdown, sweep_markdown
from jobs.report.page import comparison_page, sweep_page
from jobs.report.plots import Plot, comparison_plots, sweep_plots
from jobs.report.summary import summarize
from jobs.report.terminal import print_comparison, print_sweep

CONTENT_TYPES = {".csv": "text/csv", ".md": "text/markdown; charset=utf-8", ".html": "text/html; charset=utf-8",
                 ".png": "image/png"}


def write_sweep_report(sweep: CollectedRun, out: str, console: Console) -> dict[str, bytes]:
    """Write one run's report into ``out``, print its summary; returns what was written by name."""
    summary = summarize(sweep)
    plots = sweep_plots(sweep, summary.importances)
    files = {"trials.csv": sweep.frame.to_csv(index=False).encode(),
             "report.md": sweep_markdown(summary, plots).encode(),
             "report.html": sweep_page(summary, plots).encode(), **_plot_files(plots)}
    _write(out, files)
    print_sweep(console, summary)
    console.print(f"report: {storage.join(out, 'report.html')} (and report.md, trials.csv, plots/)", highlight=False)
    return files


def write_comparison_report(sweeps: list[CollectedRun], out: str, console: Console) -> dict[str, bytes]:
    """Write one report comparing runs into ``out`` (with each run's trials as trials-<run_id>.csv)."""
    summaries = [summarize(s) for s in sweeps]
    plots = comparison_plots(sweeps)
    header, rows = side_by_side(summaries)
    files = {"best_trials.csv": best_trials_frame(summaries).to_csv(index=False).encode(),
             **{f"trials-{s.run_id}.csv": s.frame.to_csv(index=False).encode() for s in sweeps},
             "report.md": comparison_markdown(summaries, plots, header, rows).encode(),
             "report.html": comparison_page(summaries, plots, header, rows).encode(), **_plot_files(plots)}
    _write(out, files)
    print_comparison(console, summaries, header, rows)
    console.print(f"report: {storage.join(out, 'report.html')}", highlight=False)
    return files


def _plot_files(plots: list[Plot]) -> dict[str, bytes]:
    return {f"plots/{p.name}.png": p.png for p in plots}


def _write(out: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        suffix = name[name.rfind("."):]
        storage.write_bytes(storage.join(out, name), data, CONTENT_TYPES.get(suffix, "application/octet-stream"))
