"""Live progress of a sweep: a table redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from jobs.console.tables import trials_table
from jobs.console.text import params_text, user_console
from jobs.trial.record import DONE, FAILURES, TrialRecord, TrialState, best_trial, trial_order

SHOWN_ROWS = 12


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Receives the backend's events and shows them; ``summary()`` tells where the sweep stands."""

    def __init__(self, name: str, goal: str, max_trials: int, parallel: int, console: Console | None = None,
                 live: bool | None = None):
        self.name, self.goal, self.max_trials, self.parallel = name, goal, max_trials, parallel
        self.console = console or user_console()
        self.live_mode = self.console.is_terminal if live is None else live
        self.trials: dict[str, TrialRecord] = {}
        self.started = time.time()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4,
                              get_renderable=self._render)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def seed(self, trials: list[TrialRecord]) -> None:
        """Trials already recorded (a resumed run)."""
        self.trials.update({t.trial_id: t for t in trials})

    def __call__(self, kind: str, view: TrialRecord) -> None:
        self.trials[view.trial_id] = view
        if not self.live_mode:
            if kind == "started":
                line = f"trial {view.trial_id} started: {params_text(view.parameters)}"
            else:
                value = "-" if view.objective is None else f"{view.objective:.6g}"
                reason = f" ({view.reason})" if view.reason else ""
                line = f"trial {view.trial_id} {view.state}: {value}{reason} [{self.summary()}]"
            self.console.print(line, soft_wrap=True, markup=False, highlight=False)

    def done(self) -> int:
        """Trials that count toward ``max``."""
        return sum(t.state in DONE for t in self.trials.values())

    def summary(self, until: float | None = None) -> str:
        """One line: done, running, failed, best, elapsed (to ``until``, default now), remaining."""
        trials = list(self.trials.values())
        done = [t for t in trials if t.state in DONE]
        running = sum(t.state == TrialState.ACTIVE for t in trials)
        failed = sum(t.state in FAILURES for t in trials)
        best = best_trial(trials, self.goal)
        elapsed = (until or time.time()) - self.started
        durations = [t.duration_s for t in done if t.duration_s]
        left = max(0, self.max_trials - len(done))
        eta = (sum(durations) / len(durations)) * left / self.parallel if durations else None
        parts = [f"{len(done)}/{self.max_trials} done", f"{running} running"]
        if failed:
            parts.append(f"{failed} failed")
        parts.append(f"best {best.objective:.6g} (trial {best.trial_id})" if best else "best -")
        parts.append(f"elapsed {_clock(elapsed)}")
        if eta is not None and left:
            parts.append(f"remaining ~{_clock(eta)}")
        return ", ".join(parts)

    def _render(self):
        return Group(self.table(), self.summary())

    def table(self) -> Table:
        """The latest trials and the best one, saying how many earlier ones are hidden."""
        rows = sorted(self.trials.values(), key=lambda t: trial_order(t.trial_id))
        best = best_trial(rows, self.goal)
        shown = rows[-SHOWN_ROWS:]
        if best is not None and best not in shown:
            shown = [best, *shown[1:]]  # the best trial always stays in view
        hidden = len(rows) - len(shown)
        caption = f"{hidden} earlier trials not shown; `invoke status RUN_ID` lists them all" if hidden else None
        return trials_table(f"sweep {self.name}", shown, self.goal, caption)
