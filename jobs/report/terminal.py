"""The summary printed in the terminal: the top trials with the best highlighted, counts by state."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from jobs.report.compare import leader
from jobs.report.summary import Summary
from jobs.report.text import state, state_counts

STATE_STYLES = {"SUCCEEDED": "green", "STOPPED": "yellow", "FAILED": "red", "INFEASIBLE": "red", "ACTIVE": "blue"}


def print_sweep(console: Console, summary: Summary) -> None:
    """The top trials table, then the best trial and what mattered."""
    header, rows = summary.top_table()
    table = Table(title=summary.title, title_justify="left", caption=_counts(summary), caption_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in (0, 2) else "left", no_wrap=i < 3)
    best_id = None if summary.best is None else summary.best["trial_id"]
    for row in rows:
        table.add_row(*row, style="bold green" if row[1] == best_id else None)
    console.print(table)
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if summary.best is not None:
        metric = summary.sweep.spec.metric.id
        console.print(f"best trial: [bold]{best_id}[/]  {metric} = {summary.best['objective']:.6g}", highlight=False)
    if summary.importances:
        mattered = ", ".join(f"{p} {w:.0%}" for p, w in list(summary.importances.items())[:4])
        console.print(f"mattered most: {mattered}", highlight=False)
    else:
        console.print(f"importance: {summary.importance_note}", highlight=False)


def print_comparison(console: Console, summaries: list[Summary], header: list[str], rows: list[list[str]]) -> None:
    """The runs' best trials side by side, then each run's counts."""
    table = Table(title="best trials side by side", title_justify="left")
    for name in header:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if text := leader(summaries):
        console.print(text, highlight=False)
    for s in summaries:
        console.print(f"{s.sweep.run_id}: {_counts(s)}", highlight=False)
        for warning in s.warnings:
            console.print(f"  [yellow]warning:[/] {warning}", highlight=False)


def _counts(summary: Summary) -> str:
    states = summary.sweep.frame["state"].tolist()
    return f"{len(states)} trials: " + ", ".join(
        f"[{STATE_STYLES.get(s, 'white')}]{n} {state(s)}[/]" for s, n in state_counts(states))
