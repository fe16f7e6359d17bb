"""The one place what a backend returns is put into words: a run's trials as a table, the best trial, and how a
command ended (``Outcome``). Backends build the data; the console shows it."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.console.progress import params_text, styled
from jobs.trial.record import TrialRecord, best_trial, ties, trial_order


@dataclass
class Best:
    """Name the best of ``trials`` by ``goal`` (``metric`` is its id); ``tied``: say how many others tie."""

    trials: list[TrialRecord]
    metric: str
    goal: str
    tied: bool = False


@dataclass
class Outcome:
    """How a command ended, for the console to say: the trials' table (``table``: its title), closing ``lines``
    (each a Text or a string, in order), the best trial (``best``), and the exit status it means."""

    status: int = 0
    lines: list[Text | str] = field(default_factory=list)
    table: tuple[str, list[TrialRecord]] | None = None
    best: Best | None = None


def show(outcome: Outcome, console: Console) -> int:
    """Print ``outcome``; returns its exit status."""
    if outcome.table is not None:
        console.print(trials_table(*outcome.table))
    for line in outcome.lines:
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    if outcome.best is not None:
        show_best(outcome.best, console)
    return outcome.status


def best_line(trial_id: str, metric: str, objective: float, tied: int = 0) -> Text:
    """``best trial: <id>  <metric> = <value>``, saying when other trials reached exactly the same value."""
    also = f" (tied with {tied} other trial{'s' if tied > 1 else ''}; the first is named)" if tied else ""
    return Text.assemble("best trial: ", (trial_id, "bold"), f"  {metric} = {objective:.6g}{also}")


def show_best(best: Best, console: Console) -> bool:
    """The best trial, its parameters and its artifacts; False (and nothing printed) when none succeeded."""
    found = best_trial(best.trials, best.goal)
    if found is None:
        return False
    tied = ties(best.trials, best.goal) if best.tied else 0
    console.print(best_line(found.trial_id, best.metric, found.objective, tied), soft_wrap=True, highlight=False)
    console.print(f"parameters: {params_text(found.parameters)}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"artifacts:  {found.artifact_dir}", soft_wrap=True, markup=False, highlight=False)
    return True


def trials_table(title: str, trials: list[TrialRecord], goal: str | None = None, caption: str | None = None) -> Table:
    """Trials as a table, in id order (the best one, by ``goal`` when given, in bold green); a failed or
    stopped trial's note says why."""
    best = best_trial(trials, goal) if goal else None
    table = Table(title=title, title_justify="left", expand=False, caption=caption, caption_justify="left")
    for column in ("trial", "state", "value", "step", "duration", "parameters", "note"):
        table.add_column(column, justify="right" if column in ("trial", "value", "step", "duration") else "left",
                         overflow="fold")
    for t in sorted(trials, key=lambda t: trial_order(t.trial_id)) if caption is None else trials:
        style = "bold green" if best is not None and t.trial_id == best.trial_id else None
        table.add_row(t.trial_id, t.state, "-" if t.objective is None else f"{t.objective:.4g}",
                      "-" if t.step is None else str(t.step),
                      "-" if t.duration_s is None else f"{t.duration_s:.0f} s", params_text(t.parameters),
                      Text(t.reason[:160]), style=style)
    return table


def warning(text: str) -> Text:
    """``warning: <text>``, the lead in yellow."""
    return styled("yellow", "warning:", f" {text}")
