"""What trials have cost, from their records, whichever backend ran them."""

from __future__ import annotations

import pytest

from jobs.cloud.cost import Ceiling, trials_cost
from jobs.trial.record import TrialRecord, TrialState

NOW = 10_000.0


def test_trials_cost_their_duration_or_their_time_so_far_and_nothing_before_they_start():
    trials = [TrialRecord("1", TrialState.SUCCEEDED, started=NOW - 7200, duration_s=3600),
              TrialRecord("2", TrialState.ACTIVE, started=NOW - 1800),
              TrialRecord("3", TrialState.REQUESTED)]
    cost, running = trials_cost(trials, 2.0, NOW)
    assert (cost, running) == (pytest.approx(3.0), 1)  # 1 h + 0.5 h at 2.0/h; trial 3 has not started


def test_a_ceiling_is_breached_before_running_trials_would_cross_it():
    running = [TrialRecord("1", TrialState.ACTIVE, started=NOW - 3600)]
    assert Ceiling(max_cost=10.0, hourly=2.0, currency="USD", margin_s=60).breach(running, NOW) is None
    said = Ceiling(max_cost=2.01, hourly=2.0, currency="USD", margin_s=60).breach(running, NOW)
    assert said == ("trials have cost 2 USD of trials.max_cost 2.01 USD, 1 still running: cancelling the job before "
                    "it crosses the ceiling")
