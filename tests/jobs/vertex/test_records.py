"""A job's trials as records: values decoded to the spec's types, objective, times, artifacts, order."""

from __future__ import annotations

import datetime as dt

from google.cloud.aiplatform_v1.types import HyperparameterTuningJob, Measurement, Trial

from jobs.spec import parse_spec
from jobs.vertex.follow import live_record
from jobs.vertex.records import trial_records
from jobs.vertex.resources import check

SPEC = check(parse_spec({
    "name": "s", "metric": {"id": "validation_accuracy", "goal": "maximize"}, "trials": {"max": 3},
    "measurement": "last",
    "parameters": {"lr": {"type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
                   "patience": {"type": "integer", "min": 5, "max": 20},
                   "hidden": {"type": "discrete", "values": [16, 32, 64]},
                   "decay": {"type": "discrete", "values": [0.1, 0.3]},
                   "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
                   "momentum": {"type": "double", "min": 0.0, "max": 0.9, "when": {"optimizer": ["sgd"]}}},
}, "s.yaml"), "s.yaml")
T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
BASE = "gs://b/artifacts/s/run-1/"


def trial(trial_id: str, state: str, values: dict, final: float | None = None, reports=(), reason="", seconds=None):
    t = Trial(id=trial_id, state=state,
              parameters=[Trial.Parameter(parameter_id=k, value=v) for k, v in values.items()],
              measurements=[Measurement(step_count=step, metrics=[Measurement.Metric(metric_id="validation_accuracy",
                                                                                    value=value)])
                            for step, value in reports],
              infeasible_reason=reason, start_time=T0)
    if final is not None:
        t.final_measurement = Measurement(step_count=9, metrics=[
            Measurement.Metric(metric_id="validation_loss", value=0.3),
            Measurement.Metric(metric_id="validation_accuracy", value=final)])
    if seconds is not None:
        t.end_time = T0 + dt.timedelta(seconds=seconds)
    return t


def job(*trials) -> HyperparameterTuningJob:
    return HyperparameterTuningJob(trials=list(trials), trial_job_spec={"base_output_directory": {
        "output_uri_prefix": BASE}})


def test_values_come_back_typed_as_the_spec_says_and_trials_in_id_order():
    records = trial_records(job(
        trial("10", "SUCCEEDED", {"lr": 0.01, "patience": 7.0, "hidden": 64.0, "decay": 0.1 + 0.2, "optimizer": "sgd",
                                  "momentum": 0.5}, final=0.81, seconds=90.5),
        trial("2", "INFEASIBLE", {"lr": 0.001, "patience": 20.0, "hidden": 16.0, "optimizer": "adam"},
              reason="the trial exited with status 2", seconds=3),
        trial("3", "ACTIVE", {"lr": 0.002, "patience": 5.0, "hidden": 32.0, "optimizer": "adam"},
              reports=[(1, 0.6), (2, 0.7)]),
    ), SPEC)
    assert [r.trial_id for r in records] == ["2", "3", "10"]
    infeasible, running, done = records
    # integers as int; discrete values as the spec's own (floats, as a local sweep records them), so they
    # group with the spec's values even when float noise came back with them (0.1 + 0.2 != 0.3)
    assert done.parameters == {"lr": 0.01, "patience": 7, "hidden": 64.0, "decay": 0.3, "optimizer": "sgd",
                               "momentum": 0.5}
    assert type(done.parameters["patience"]) is int and type(done.parameters["hidden"]) is float
    assert list(done.parameters) == ["lr", "patience", "hidden", "decay", "optimizer", "momentum"]  # spec order
    assert "momentum" not in infeasible.parameters  # inactive under adam
    assert (done.state, done.objective, done.duration_s, done.step) == ("SUCCEEDED", 0.81, 90.5, 9)
    assert done.started == T0.timestamp()
    params = {"lr": 0.01, "patience": 7.0, "hidden": 64.0, "optimizer": "adam"}
    later = trial_records(job(trial("4", "SUCCEEDED", params, final=0.81, reports=[(9, 0.81), (12, 0.8)])), SPEC)
    assert later[0].step == 12  # the last step reported, not the final measurement's (the best one's)
    assert done.artifact_dir == "gs://b/artifacts/s/run-1/10"
    assert (infeasible.state, infeasible.objective, infeasible.reason) == ("INFEASIBLE", None,
                                                                          "the trial exited with status 2")
    assert (running.objective, running.duration_s, running.step) == (None, None, 2)


def test_the_view_shows_the_final_value_or_the_value_so_far_by_measurement():
    running = live_record(trial("3", "ACTIVE", {"optimizer": "adam"}, reports=[(1, 0.9), (2, 0.7)]), SPEC, BASE)
    assert (running.state, running.objective, running.step) == ("ACTIVE", 0.7, 2)  # measurement: last
    stopping = live_record(trial("4", "STOPPING", {"optimizer": "adam"}), SPEC, BASE)
    assert (stopping.state, stopping.reason) == ("ACTIVE", "stopping: Vertex AI's early stopping ended it")
    done = live_record(trial("5", "SUCCEEDED", {"optimizer": "adam"}, final=0.8, reports=[(1, 0.9)], seconds=4), SPEC,
                      BASE)
    assert (done.state, done.objective, done.duration_s) == ("SUCCEEDED", 0.8, 4.0)
    assert done.started == T0.timestamp()
    params = {"lr": 0.01, "patience": 7.0, "hidden": 64.0, "optimizer": "adam"}
    later = trial_records(job(trial("4", "SUCCEEDED", params, final=0.81, reports=[(9, 0.81), (12, 0.8)])), SPEC)
    assert later[0].step == 12  # the last step reported, not the final measurement's (the best one's)
