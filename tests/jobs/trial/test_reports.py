"""Reading a trial's reports: hypertune lines, printed lines, half-written files; the decay curve."""

from __future__ import annotations

import json

import optuna
import pytest

from jobs.local.stopping import DecayCurvePruner, MedianStoppingPruner, extrapolate
from jobs.trial.reports import FileTail, Reports


def _line(metric: str, value: float, step: int) -> str:
    return json.dumps({"checkpoint_path": "", "global_step": str(step), metric: str(value), "trial": "1"})


def test_hypertune_reports_merge_by_step_and_skip_what_cannot_be_read():
    reports = Reports("acc")
    reports.merge_hypertune("\n".join([_line("acc", 0.5, 1), _line("loss", 9.0, 1), _line("acc", 0.7, 2)]))
    # The library keeps its last 100 reports: a later read may miss the first ones, and a line caught
    # mid-write is half a line. What was seen stays.
    reports.merge_hypertune("\n".join([_line("acc", 0.6, 3), '{"acc": "0.', _line("acc", float("nan"), 4)]))
    assert reports.series() == [(1, 0.5), (2, 0.7), (3, 0.6)]
    assert reports.measure("best", "maximize") == 0.7
    assert reports.measure("best", "minimize") == 0.5
    assert reports.measure("last", "maximize") == 0.6


def test_printed_lines_count_only_without_a_hypertune_file():
    reports = Reports("validation_accuracy")
    reports.merge_printed("epoch 1\nvalidation_accuracy: 0.5\nvalidation_accuracy = 0.75\nother: 3\n"
                          "validation_accuracy: nan\nvalidation_accuracy_x: 1\n")
    assert reports.series() == [(1, 0.5), (2, 0.75)]
    reports.merge_hypertune(_line("validation_accuracy", 0.9, 7))
    assert reports.series() == [(7, 0.9)]
    assert Reports("m").measure("best", "maximize") is None


def test_file_tail_returns_whole_lines_once(tmp_path):
    path = tmp_path / "log.txt"
    tail = FileTail(path)
    assert tail.read_new() == ""
    path.write_text("a\nb")
    assert tail.read_new() == "a\n"
    with open(path, "a") as handle:
        handle.write("c\nd\n")
    assert tail.read_new() == "bc\nd\n"
    assert tail.read_new() == ""


def test_extrapolate_fits_a_plus_b_over_step_and_measures_the_scatter():
    steps = [1, 2, 4, 8]
    predicted, spread = extrapolate(steps, [1.0 - 0.5 / s for s in steps], 100)
    assert predicted == pytest.approx(1.0 - 0.005) and spread == pytest.approx(0, abs=1e-12)
    _, spread = extrapolate(steps, [1.0 - 0.5 / s + (0.1 if i % 2 else -0.1) for i, s in enumerate(steps)], 100)
    assert spread > 0.05


def _study_with(values: list[float], direction: str = "maximize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for value in values:
        study.add_trial(optuna.trial.create_trial(value=value, intermediate_values={s: value for s in range(1, 21)}))
    return study


@pytest.mark.parametrize("curve, stop", [
    ([0.5 - 0.3 / s for s in range(1, 11)], True),   # heading for 0.5 while the best trial reached 0.9
    ([0.95 - 0.3 / s for s in range(1, 11)], False),  # heading past the best
])
def test_decay_curve_stops_a_trial_that_cannot_catch_up(curve, stop):
    study = _study_with([0.7, 0.8, 0.9])
    trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                      intermediate_values=dict(enumerate(curve, start=1)))
    assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5).prune(study, trial) is stop


def test_decay_curve_waits_for_warmup_and_startup_trials():
    curve = {s: 0.1 for s in range(1, 11)}
    trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, intermediate_values=curve)
    assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5).prune(_study_with([0.9, 0.9]), trial) is False
    early = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, intermediate_values={1: 0.1, 2: 0.1})
    assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5).prune(_study_with([0.9] * 3), early) is False


def test_decay_curve_gives_a_noisy_curve_the_benefit_of_its_scatter():
    """Both curves head for 0.85 against a best of 0.9: the smooth one is stopped, the one whose reports
    scatter by 0.05 around the same fit may still reach 0.9 (two deviations above it) and runs on."""
    study = _study_with([0.7, 0.8, 0.9])
    smooth = [0.85 - 0.3 / s for s in range(1, 11)]
    noisy = [v + (0.05 if s % 2 else -0.05) for s, v in enumerate(smooth, start=1)]
    for curve, stop in ((smooth, True), (noisy, False)):
        trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                          intermediate_values=dict(enumerate(curve, start=1)))
        assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5).prune(study, trial) is stop


def test_decay_curve_keeps_a_trial_whose_best_report_already_wins_when_the_best_counts():
    """A loss that reached 0.2 (best of the study 0.3) and now rises: under measurement best it has won
    already; under measurement last its rising curve cannot end below 0.3."""
    study = _study_with([0.5, 0.4, 0.3], direction="minimize")
    curve = [0.2 + 0.05 * s for s in range(10)]
    trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                      intermediate_values=dict(enumerate(curve, start=1)))
    assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5, best_counts=True).prune(study, trial) is False
    assert DecayCurvePruner(n_startup_trials=3, n_warmup_steps=5, best_counts=False).prune(study, trial) is True


def test_median_rule_holds_a_slow_trial_to_the_trials_that_finished_early():
    """Vertex AI's median rule: completed trials count with the running average of all they reported up to
    the step, also when they ended before it. Two fast trials ended at step 10 near 0.3 (running averages
    0.43 and 0.45), one slow trial ran to 100 and reached 0.6 (0.7 at step 50); a trial at step 50 with a
    best of 0.65 is stopped (Optuna's MedianPruner, seeing only the slow trial at step 50, lets it run), a
    trial at 0.35 is not."""
    study = optuna.create_study(direction="minimize")
    for curve in ({s: 0.3 + 0.5 / s for s in range(1, 11)}, {s: 0.28 + 0.5 / s for s in range(1, 11)},
                  {s: 0.5 + 10.0 / s for s in range(1, 101)}):
        study.add_trial(optuna.trial.create_trial(value=min(curve.values()), intermediate_values=curve))
    for best, stop in ((0.65, True), (0.35, False)):
        curve = {s: best + 1.0 / s - 1.0 / 50 for s in range(1, 51)}
        trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, intermediate_values=curve)
        assert MedianStoppingPruner(n_startup_trials=3, n_warmup_steps=5).prune(study, trial) is stop
        assert not optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5).prune(study, trial)


def test_median_rule_waits_for_warmup_and_startup_trials_and_reads_maximize():
    study = _study_with([0.9, 0.9, 0.9])  # maximize: each completed trial reported 0.9 at every step
    low, high = (optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                           intermediate_values=dict.fromkeys(range(1, 11), value))
                 for value in (0.5, 0.95))
    assert MedianStoppingPruner(n_startup_trials=3, n_warmup_steps=5).prune(study, low) is True
    assert MedianStoppingPruner(n_startup_trials=3, n_warmup_steps=5).prune(study, high) is False
    assert MedianStoppingPruner(n_startup_trials=4, n_warmup_steps=5).prune(study, low) is False
    assert MedianStoppingPruner(n_startup_trials=3, n_warmup_steps=11).prune(study, low) is False
