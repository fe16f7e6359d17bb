"""The summary printed in the terminal: the top trials with the best highlighted, counts by state."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.console.render import best_line
from jobs.console.text import styled
from jobs.report.compare import leader
from jobs.report.summary import Summary
from jobs.report.text import state, state_counts
from jobs.trial.record import TrialState

S = TrialState
STATE_STYLES = {S.SUCCEEDED: "green", S.STOPPED: "yellow", S.FAILED: "red", S.INFEASIBLE: "red", S.ACTIVE: "blue",
                S.REQUESTED: "blue", S.STOPPING: "blue"}


def print_sweep(console: Console, summary: Summary) -> None:
    """The top trials table (the parameters that mattered most, as many as the terminal fits), then
    the best trial and what mattered."""
    header, rows = summary.top_table()
    shown = _fitting_columns(summary, header, rows, console.width)
    hidden = len(summary.sweep.spec.parameters) - (len(shown) - 4)
    caption = _counts(summary) + (f"; {hidden} more parameter(s) in report.html" if hidden else "")
    table = Table(title=summary.title, title_justify="left", caption=caption, caption_justify="left",
                  box=box.SIMPLE_HEAD)
    for i in shown:
        table.add_column(header[i], justify="right" if i in (0, 2) else "left", no_wrap=True)
    best_id = None if summary.best is None else summary.best["trial_id"]
    for row in rows:
        table.add_row(*(row[i] for i in shown), style="bold green" if row[1] == best_id else None)
    console.print(table)
    for warning in summary.warnings:
        console.print(styled("yellow", "warning:", f" {warning}"), highlight=False)
    if summary.best is not None:
        console.print(best_line(str(best_id), summary.sweep.spec.metric.id, summary.best["objective"]),
                      highlight=False)
    if summary.importances:
        mattered = ", ".join(f"{p} {w:.0%}" for p, w in list(summary.importances.items())[:4])
        console.print(f"mattered most: {mattered}", highlight=False)
    else:
        console.print(f"importance: {summary.importance_note}", highlight=False)


def _fitting_columns(summary: Summary, header: list[str], rows: list[list[str]], width: int) -> list[int]:
    """Indexes of the top table's columns to show: rank, trial, objective and duration always, then
    parameters by importance while the table fits ``width`` (never cutting a value short)."""
    def needs(i: int) -> int:
        return max([len(header[i]), *(len(row[i]) for row in rows)]) + 3  # padding and the column rule

    first = len(header) - 1 - len(summary.sweep.spec.parameters)  # index of the first parameter column
    by_importance = sorted(range(first, len(header) - 1),
                           key=lambda i: -summary.importances.get(header[i], -1.0))
    shown, used = [0, 1, 2], sum(needs(i) for i in (0, 1, 2, len(header) - 1)) + 1
    for i in by_importance:
        if used + needs(i) > width:
            break
        shown.append(i)
        used += needs(i)
    return [*shown, len(header) - 1]


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
        console.print(Text(f"{s.sweep.run_id}: ") + _counts(s), highlight=False)
        for warning in s.warnings:
            console.print(Text("  ") + styled("yellow", "warning:", f" {warning}"), highlight=False)


def _counts(summary: Summary) -> Text:
    states = summary.sweep.frame["state"].tolist()
    counts = [(f"{n} {state(s)}", STATE_STYLES.get(s, "white")) for s, n in state_counts(states)]
    return Text(f"{len(states)} trials: ") + Text(", ").join(Text(*count) for count in counts)
