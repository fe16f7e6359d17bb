"""The one place what a backend returns is put into words (jobs/run/outcome.py): lines, the plan, a run's trials
as a table, the best trial, and the exit status an outcome means. Backends build the data; this shows it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.console.tables import plan_table, trials_table
from jobs.console.text import params_text, styled
from jobs.run.outcome import Best, Line, Outcome, Part, PlanTable, TrialsTable
from jobs.trial.record import best_trial


def show(outcome: Outcome, console: Console) -> int:
    """Print ``outcome``'s parts in order; returns the exit status it means."""
    for part in outcome.parts:
        show_part(part, console)
    return int(outcome.ending)


def show_part(part: Part, console: Console) -> None:
    if isinstance(part, PlanTable):
        console.print(plan_table(part.spec))
    elif isinstance(part, TrialsTable):
        console.print(trials_table(part.title, part.trials, part.goal))
    elif isinstance(part, Best):
        show_best(part, console)
    else:
        text = styled(part.style, part.lead, part.text) if isinstance(part, Line) else part
        console.print(text, soft_wrap=True, markup=False, highlight=False)


class ConsoleNotes:
    """``Notes`` on a console: each part printed as it comes, a sweep's progress live on a terminal."""

    def __init__(self, console: Console):
        self.console = console

    def print(self, part: Part) -> None:
        show_part(part, self.console)

    def progress(self, name: str, goal: str, max_trials: int, parallel: int):
        from jobs.console.progress import Progress

        return Progress(name, goal, max_trials, parallel, console=self.console)


def best_line(trial_id: str, metric: str, objective: float, tied: int = 0) -> Text:
    """``best trial: <id>  <metric> = <value>``, saying when other trials reached exactly the same value."""
    also = f" (tied with {tied} other trial{'s' if tied > 1 else ''}; the first is named)" if tied else ""
    return Text.assemble("best trial: ", (trial_id, "bold"), f"  {metric} = {objective:.6g}{also}")


def show_best(best: Best, console: Console) -> None:
    """The best trial, its parameters and its artifacts (nothing when none succeeded)."""
    found = best_trial(best.trials, best.goal)
    if found is None:
        return
    console.print(best_line(found.trial_id, best.metric, found.objective, best.tied), soft_wrap=True,
                  highlight=False)
    console.print(f"parameters: {params_text(found.parameters)}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"artifacts:  {found.artifact_dir}", soft_wrap=True, markup=False, highlight=False)


def rows_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], right: Collection[str] = (),
               caption: str | None = None) -> Table:
    """Rows of text under ``columns`` (those named in ``right`` aligned right), as they are (never markup): the
    fleet of stacks, a fleet operation's summary, the teams' sweeps."""
    table = Table(title=title, title_justify="left", expand=False, caption=caption, caption_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table
