"""What a cloud sweep may cost, and the ceiling it is held to (``trials.max_cost``), whichever service runs it.

A backend estimates its sweep (``Estimate``: vertex/cost.py's from its price table); here the worst case is checked
against the ceiling before anything is submitted, each trial's timeout is cut to what the ceiling pays for, and a
followed job is cancelled before its trials' cost crosses it. A trial costs its machine hours at the hourly price:
``trial_cost``, the one rule the report's cost column and the ceiling share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from jobs.errors import UserError
from jobs.run.folder import M, RunFolder
from jobs.spec import Spec
from jobs.trial.record import TrialRecord

# Scheduling.timeout: "The maximum job running time. The default is 7 days." The reference names no maximum, so a
# ceiling's timeout is never longer than the default, which holds the same ceiling.
DEFAULT_TRIAL_TIMEOUT_S = 7 * 24 * 3600


class Estimate(Protocol):
    """A sweep's worst case: ``total`` (None when a price is missing: ``notes`` say which) of ``trials`` trials
    of ``minutes_per_trial`` at ``hourly`` each, on ``machine``; ``cheaper`` says what else lowers the price."""

    total: float | None
    hourly: float | None
    trials: int
    minutes_per_trial: float
    notes: list[str]
    cheaper: str

    @property
    def currency(self) -> str: ...

    @property
    def machine(self) -> str: ...


def trial_cost(seconds, hourly: float):
    """What a trial running ``seconds`` costs at ``hourly`` (a number, or a column of them)."""
    return seconds / 3600 * hourly


class CeilingError(UserError, ValueError):
    """A sweep whose worst-case cost is above ``trials.max_cost``, or whose cost cannot be known."""


def check_ceiling(estimate: Estimate, max_cost: float | None) -> None:
    """Refuse a sweep whose worst-case estimate is above ``max_cost``, saying how many trials would fit."""
    if max_cost is None:
        return
    currency = estimate.currency
    if estimate.total is None:
        raise CeilingError(f"trials.max_cost {max_cost:g} {currency} cannot be enforced: " + "; ".join(estimate.notes))
    if estimate.total <= max_cost:
        return
    per_trial = estimate.total / estimate.trials
    fits = int(max_cost // per_trial)
    fit = (f"{fits} trials fit (--trials {fits})" if fits else "not one trial fits") + \
        f" at {per_trial:.4g} {currency} each"
    raise CeilingError(f"the worst case, {estimate.total:.4g} {currency} ({estimate.trials} trials x "
                       f"{estimate.minutes_per_trial:g} min x {estimate.hourly:.4f} {currency}/h), is above "
                       f"trials.max_cost {max_cost:g} {currency}: {fit}; or raise max_cost (--max-cost), or give "
                       "--minutes-per-trial if trials run shorter")


def trial_timeout(spec: Spec, estimate: Estimate, asked_s: float | None, minimum_s: float,
                  longest_s: float = DEFAULT_TRIAL_TIMEOUT_S) -> float | None:
    """Each trial's ``scheduling.timeout`` in seconds: ``asked_s`` (--trial-timeout), cut to what
    ``trials.max_cost`` pays each trial when all ``trials.max`` of them run to their timeout at the list price,
    floor(max_cost / (trials.max x hourly) x 3600) and at most ``longest_s`` (Vertex AI's default of 7 days), so
    that the job stays under the ceiling with nobody following it. A ceiling that pays less than ``minimum_s`` per
    trial is refused."""
    max_cost, trials = spec.trials.max_cost, spec.trials.max
    if max_cost is None:
        return asked_s
    hourly, currency = estimate.hourly, estimate.currency  # known: check_ceiling refuses a ceiling without
    allowed = min(math.floor(max_cost / (trials * hourly) * 3600), longest_s)
    if allowed < minimum_s:
        fits = math.floor(max_cost / (minimum_s * hourly) * 3600)
        fewer = f"lower trials.max to {fits} (--trials {fits})" if fits else estimate.cheaper
        raise CeilingError(f"trials.max_cost {max_cost:g} {currency} pays each of the {trials} trials (trials.max) "
                           f"only {allowed} s of {estimate.machine} at {hourly:.4f} {currency}/h, under "
                           f"the {minimum_s:g} s a trial's timeout needs at the least: raise max_cost to "
                           f"{_rounded_up(trials * minimum_s * hourly / 3600)} {currency} (--max-cost), or {fewer}")
    return allowed if asked_s is None else min(asked_s, allowed)


def _rounded_up(value: float, digits: int = 4) -> str:
    """``value`` rounded up to ``digits`` significant digits."""
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return f"{math.ceil(value * scale) / scale:g}"


def trials_cost(trials: list[TrialRecord], hourly: float, now: float) -> tuple[float, int]:
    """(what ``trials`` have cost so far at ``hourly``, how many are still running) from when each started and how
    long it ran (until ``now`` while it has no duration): the machine time a service bills, at list prices. A trial
    not started yet costs nothing."""
    seconds, running = 0.0, 0
    for trial in trials:
        if trial.started is None:
            continue
        running += trial.duration_s is None
        seconds += max(0.0, now - trial.started if trial.duration_s is None else trial.duration_s)
    return trial_cost(seconds, hourly), running


def lower_ceiling(folder: RunFolder, meta: M, asked: float) -> tuple[M, str]:
    """A re-attached run's ceiling when ``--max-cost asked`` is given: the lower of it and the one recorded,
    written to run.json when it changes; returns the run's record and what to tell the user."""
    currency, recorded = meta.currency or "", meta.max_cost
    if meta.hourly_cost is None:
        raise CeilingError(f"run {meta.run_id}: --max-cost {asked:g} cannot be enforced: the run has no recorded "
                           "price per trial-hour (its machine was not in the price table when it was submitted); "
                           "follow it without --max-cost, or cancel it and start a new run with --prices")
    if recorded is not None and recorded <= asked:
        return meta, (f"run {meta.run_id}: --max-cost {asked:g} {currency} is not below its trials.max_cost "
                      f"{recorded:g} {currency}: the lower one, {recorded:g} {currency}, stays")
    lowered = meta.model_copy(update={"max_cost": asked})
    folder.record(lowered)
    was = "none" if recorded is None else f"{recorded:g} {currency}"
    return lowered, (f"run {meta.run_id}: trials.max_cost lowered to {asked:g} {currency} (was {was}) and recorded "
                     "in run.json; it holds while the run is followed")


@dataclass(frozen=True)
class Ceiling:
    """``max_cost`` over a running job: its trials cost their hours so far times ``hourly`` (list prices; real
    billing lags and may differ). ``margin_s``: how long running trials may still be billed after a check, until
    the next check and the cancellation's end."""

    max_cost: float
    hourly: float
    currency: str
    margin_s: float

    def breach(self, trials: list[TrialRecord], now: float) -> str | None:
        """Why the job must be cancelled now, or None: when what it has cost plus its running trials' next
        ``margin_s`` would reach ``max_cost``."""
        cost, running = trials_cost(trials, self.hourly, now)
        if cost + running * self.hourly * self.margin_s / 3600 < self.max_cost:
            return None
        when = "now that it is past the ceiling" if cost >= self.max_cost else "before it crosses the ceiling"
        return (f"trials have cost {cost:.4g} {self.currency} of trials.max_cost {self.max_cost:g} {self.currency}, "
                f"{running} still running: cancelling the job {when}")
