"""report.md: the same story as report.html in Markdown, plots linked as files under ``plots/``."""

from __future__ import annotations

import html

from jobs.report.compare import leader
from jobs.report.plots import Plot
from jobs.report.summary import Summary


def _cell(text: str) -> str:
    """A table cell: HTML in it (a metric key, an error message) shows as text, and '|' does not end the cell."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _plot(plot: Plot) -> str:
    return f"## {plot.title}\n\n![{plot.title}](plots/{plot.name}.png)\n\n_{plot.caption}_"


def _warnings(warnings: list[str]) -> list[str]:
    return ["\n".join(f"> **warning:** {w}" for w in warnings)] if warnings else []


def sweep_markdown(summary: Summary, plots: list[Plot]) -> str:
    """The report of one run."""
    spec, best = summary.sweep.spec, summary.best
    parts = [f"# {summary.title}", summary.subtitle, *_warnings(summary.warnings)]
    if best is None:
        parts.append("## Best trial\n\nnone: no trial succeeded")
    else:
        parts.append(f"## Best trial: {best['trial_id']}, {spec.metric.id} = {best['objective']:.6g}\n\n"
                     + table(["parameter", "value", "range"], [list(r) for r in summary.best_parameters()])
                     + f"\n\nartifacts: `{best['artifact_dir']}`"
                     + (f"\n\n{summary.tied()} other trial(s) reached this value too; the lowest trial id is shown"
                        if summary.tied() else ""))
    importance = next((p for p in plots if p.name == "importance"), None)
    parts.append((_plot(importance) if importance else "## Which parameters mattered")
                 + f"\n\n{summary.importance_note}")
    parts += [_plot(p) for p in plots if p is not importance]
    top_header, top_rows = summary.top_table()
    if top_rows:
        parts.append(f"## Top {len(top_rows)} trials\n\n" + table(top_header, top_rows))
    if failures := summary.failures():
        parts.append(f"## Why trials failed ({len(failures)})\n\n" + table(["trial", "state", "error"], failures))
    header, rows = summary.full_table()
    parts.append(f"## All trials ({len(rows)})\n\nExact values in `trials.csv`.\n\n" + table(header, rows))
    return "\n\n".join(parts) + "\n"


def comparison_markdown(summaries: list[Summary], plots: list[Plot], header: list[str],
                        rows: list[list[str]]) -> str:
    """One document comparing runs."""
    parts = ["# comparison · " + " vs ".join(s.sweep.run_id for s in summaries), *filter(None, [leader(summaries)]),
             *_warnings([f"{s.sweep.run_id}: {w}" for s in summaries for w in s.warnings]),
             "## Best trials side by side\n\nparameter cells: the best trial's value · the parameter's importance "
             "in that run\n\n" + table(header, rows), *(_plot(p) for p in plots)]
    for s in summaries:
        top_header, top_rows = s.top_table()
        parts.append(f"## {s.title}\n\n{s.subtitle}\n\n" + (table(top_header, top_rows) if top_rows
                                                             else "no trial succeeded"))
    return "\n\n".join(parts) + "\n"
