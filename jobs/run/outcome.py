"""What a backend's command returns: data the console renders (jobs/console/render.py), never printed by the
backend itself. A command's ``Outcome`` is its parts in order (lines, a plan, a trials table, the best trial) and
how it ended; ``Notes`` is where a long command says what it is doing while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from jobs.trial.record import TrialRecord, ties

if TYPE_CHECKING:
    from jobs.console.progress import Progress
    from jobs.spec import Spec


class Ending(IntEnum):
    """How a command ended, as the exit status of its task."""

    DONE = 0
    FAILED = 1  # the sweep or the service failed; no trial succeeded
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


@dataclass(frozen=True)
class Line:
    """One line: ``lead`` in ``style`` (a warning's "warning:", an error's words in red), then ``text``."""

    text: str
    lead: str = ""
    style: str = ""


def warning(text: str) -> Line:
    return Line(f" {text}", "warning:", "yellow")


@dataclass(frozen=True)
class PlanTable:
    """The spec's search: algorithm, metric, early stopping, each parameter."""

    spec: Spec


@dataclass(frozen=True)
class TrialsTable:
    """A run's trials, every one, in id order (the best by ``goal`` marked)."""

    title: str
    trials: list[TrialRecord]
    goal: str | None = None


@dataclass(frozen=True)
class Best:
    """The best of ``trials`` by ``goal``, its ``metric`` value, parameters and artifacts."""

    trials: list[TrialRecord]
    metric: str
    goal: str

    @property
    def tied(self) -> int:
        """How many other trials reached exactly the best one's value."""
        return ties(self.trials, self.goal)


Part = Line | PlanTable | TrialsTable | Best | str


@dataclass
class Outcome:
    """What a command has to say at its end, in order, and how it ended."""

    parts: list[Part] = field(default_factory=list)
    ending: Ending = Ending.DONE

    def add(self, *parts: Part) -> Outcome:
        self.parts.extend(parts)
        return self


class Notes(Protocol):
    """Where a command says what it is doing while it runs (a warning, a step done), and shows a sweep's live
    progress."""

    def print(self, part: Part) -> None: ...

    def progress(self, name: str, goal: str, max_trials: int, parallel: int) -> Progress: ...
