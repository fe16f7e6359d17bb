"""Submitting, following, status and cancel through the real aiplatform SDK, against the stand-in.

Trials run tests/support/toy_trainer.py (a fraction of a second each), which reports ``loss`` through
hypertune; the stand-in serves trials in shuffled order, as Vertex AI gives no order.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from google.cloud.aiplatform_v1.types import HyperparameterTuningJob, JobState

from jobs.cloud.google import RETRY, PermissionProblem, QuotaProblem
from jobs.run.folder import RunError, RunFolder
from jobs.spec import load_spec
from jobs.vertex import resources
from jobs.vertex.backend import VertexBackend, VertexRun
from jobs.vertex.client import RunIdTaken
from jobs.vertex.machines import machine_type_problem
from jobs.vertex.request import spec_hash
from jobs.vertex.resources import check
from tests.support.sweeps import on_run, records_of, tune_with
from tests.support.vertex import TOY, backend_for, read, settings_for, write_outputs, write_spec
from tests.support.vertex_rules import Fault

CREATE = r"hyperparameterTuningJobs$"
GET_JOB = r"hyperparameterTuningJobs/\d+$"
ACCOUNT = "vision-trainer@acme-ml.iam.gserviceaccount.com"


@pytest.fixture
def sweep(tmp_path, vertex, console):
    """`invoke tune --backend vertex` with this test's spec, outputs, runs folder, console and stand-in."""
    def run(run_id: str = "toy-1", spec: dict | None = None, **kwargs) -> int:
        chosen = VertexBackend(kwargs.pop("settings", settings_for(vertex)))
        return tune_with(chosen, str(write_spec(tmp_path / "spec.yaml", **(spec or {}))),
                         outputs=str(write_outputs(tmp_path / "outputs.json")), run_id=run_id,
                         runs_dir=tmp_path / "runs", console=console, **kwargs)
    return run


def test_resubmitting_a_run_id_attaches_and_creates_no_second_job(tmp_path, vertex, sweep, console):
    assert sweep(detach=True) == 0
    (name,) = vertex.jobs
    assert RunFolder.open("toy-1", tmp_path / "runs").meta().of(VertexRun).job == name
    assert sweep(detach=True) == 0  # by the run folder
    assert f"run toy-1 was submitted before as job {name}: attaching" in read(console)
    shutil.rmtree(tmp_path / "runs")  # the local record is lost: the job's run_id label still finds it
    assert sweep(detach=True) == 0
    assert f"run toy-1: already on Vertex AI, attached to job {name}" in read(console)
    assert RunFolder.open("toy-1", tmp_path / "runs").meta().of(VertexRun).job == name
    assert vertex.creates() == 1 and len(vertex.jobs) == 1
    assert sweep(run_id="toy-2", detach=True) == 0
    assert vertex.creates() == 2


def test_a_run_id_another_spec_holds_on_vertex_is_refused_before_any_record(tmp_path, vertex, sweep, console):
    """Another folder, another spec, the same run id: the job's spec and spec_hash labels are not this spec's."""
    assert sweep(detach=True) == 0
    (job,) = vertex.jobs.values()
    other = tmp_path / "other"
    other.mkdir()
    spec = write_spec(other / "spec.yaml", parameters={"x": {"type": "double", "min": -1.0, "max": 1.0}})
    with pytest.raises(RunIdTaken) as refused:
        tune_with(VertexBackend(settings_for(vertex)), str(spec), outputs=str(write_outputs(other / "outputs.json")),
                  run_id="toy-1", runs_dir=other / "runs", console=console)
    assert str(refused.value) == (
        f"run id toy-1 is taken on Vertex AI by job {job.name} of spec toy (spec_hash {job.labels['spec_hash']}), "
        f"not this spec toy (spec_hash {spec_hash(check(load_spec(spec), spec))}): pick another --run-id")
    assert not (other / "runs" / "toy-1").exists() and vertex.creates() == 1


def test_the_stand_in_keeps_labels_finds_jobs_by_them_and_refuses_what_the_service_refuses(tmp_path, vertex):
    from jobs.cloud.google import GoogleApiError
    from jobs.cloud.stack import load_outputs
    from jobs.vertex.client import VertexJobs, vertex_context
    from jobs.vertex.request import build_tuning_job

    spec = check(load_spec(write_spec(tmp_path / "spec.yaml")), "spec.yaml")
    job = build_tuning_job(spec, load_outputs(outputs_file=write_outputs(tmp_path / "outputs.json")), "toy-1")
    jobs = VertexJobs(vertex_context("acme-ml", "us-central1", ACCOUNT), settings_for(vertex))
    created, _ = jobs.submit(job)
    assert dict(created.labels) == dict(job.labels)
    again, made = jobs.submit(job)  # found by its run_id label
    assert (again.name, made) == (created.name, False)
    for key, value in [("run_id", "Toy-2"), ("note", "x" * 65), ("Team", "vision"), ("note", "a.b")]:
        bad = HyperparameterTuningJob.deserialize(HyperparameterTuningJob.serialize(job))
        bad.labels = {**job.labels, "run_id": "toy-2", key: value}
        with pytest.raises(GoogleApiError, match="invalid labels"):
            jobs.submit(bad)
    assert vertex.creates() == 1


def test_attaching_to_a_finished_job_shows_its_trials_without_replaying_them(tmp_path, vertex, sweep, console):
    assert sweep(detach=True) == 0
    (job,) = vertex.jobs.values()
    vertex.wait_until(lambda: job.state == JobState.JOB_STATE_SUCCEEDED)
    assert sweep() == 0
    text = read(console)
    assert "started" not in text and "SUCCEEDED:" not in text
    assert "3/3 done, 0 running, best" in text and "best trial:" in text


def test_smoke_submits_one_trial(vertex, sweep, console):
    assert sweep(smoke=True) == 0
    (job,) = vertex.jobs.values()
    assert (job.max_trial_count, job.parallel_trial_count, len(job.trials)) == (1, 1, 1)
    assert "1/1 done" in read(console)


def test_a_503_is_retried_and_then_succeeds(vertex, sweep, console):
    vertex.fail_next(Fault("POST", 503, path=CREATE))
    assert sweep(detach=True) == 0
    assert vertex.create_answers() == [503, 200]
    assert "ServiceUnavailable" in read(console) and "; retrying for up to" in read(console)
    assert len(vertex.jobs) == 1


def test_the_vertex_section_is_validated_once_per_command_and_passed_along(tmp_path, vertex, sweep, console,
                                                                            monkeypatch):
    """check() returns the spec with its section validated, which the estimate, the request, the follower's records
    and the ceiling read: not validated again at each use, or at each poll (a dry run, a followed sweep with a
    ceiling, the report's records: one each)."""
    validations = []
    monkeypatch.setattr(resources, "machine_type_problem",
                        lambda machine: validations.append(machine) or machine_type_problem(machine))
    assert sweep(dry_run=True) == 0 and len(validations) == 1
    assert sweep(spec={"trials": {"max": 3, "parallel": 2, "max_cost": 5.0}}) == 0 and len(validations) == 2
    assert len(records_of(backend_for(vertex), "toy-1", tmp_path / "runs", console)) == 3 and len(validations) == 3


def test_a_retry_while_the_report_reads_a_runs_trials_is_said_through_the_notes_it_is_given(tmp_path, vertex, sweep,
                                                                                            console):
    assert sweep() == 0
    vertex.fail_next(Fault("GET", 503, path=GET_JOB))
    records = records_of(VertexBackend(settings_for(vertex)), "toy-1", tmp_path / "runs", console)
    assert len(records) == 3 and read(console).count("; retrying for up to") == 1


def test_an_answer_lost_after_the_create_is_found_not_made_twice(vertex, sweep):
    vertex.fail_next(Fault("POST", drop=True, after=True, path=CREATE))
    assert sweep(detach=True) == 0
    assert vertex.creates() == 1 and len(vertex.jobs) == 1


@pytest.mark.parametrize("message, says", [
    ("Permission 'aiplatform.hyperparameterTuningJobs.create' denied on resource "
     "'//aiplatform.googleapis.com/projects/acme-ml/locations/us-central1' (or it may not exist).",
     "needs roles/aiplatform.user on project acme-ml"),
    (f"You do not have permission to act as service_account: {ACCOUNT}. (or it may not exist).",
     f"Launching needs roles/iam.serviceAccountUser on {ACCOUNT}"),
])
def test_permission_denied_names_the_missing_role(tmp_path, vertex, sweep, message, says):
    vertex.fail_next(Fault("POST", 403, message, path=CREATE))
    with pytest.raises(PermissionProblem) as caught:
        sweep()
    assert says in str(caught.value) and message in str(caught.value)
    assert vertex.create_answers() == [403]  # not retried
    assert not (tmp_path / "runs" / "toy-1").exists()


def test_an_exhausted_quota_is_named_and_a_rate_limit_is_retried(vertex, sweep):
    quota = ("The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_cpus. "
             "Quota exceeded for resources.")
    vertex.fail_next(Fault("POST", 429, quota, path=CREATE))
    with pytest.raises(QuotaProblem, match="quota exhausted: aiplatform.googleapis.com/custom_model_training_cpus "
                                           "in project acme-ml, region us-central1"):
        sweep()
    assert vertex.create_answers() == [429]
    vertex.fail_next(Fault("POST", 429, "Quota exceeded for quota metric 'Resource management requests' and limit "
                                        "'Resource management requests per minute per region'", path=CREATE))
    assert sweep(detach=True) == 0
    assert vertex.create_answers() == [429, 429, 200]


def test_following_survives_dropped_connections_and_names_the_best_by_goal(tmp_path, vertex, sweep, console):
    vertex.fail_next(Fault("GET", drop=True, times=3, path=GET_JOB))
    assert sweep(spec={"trials": {"max": 4, "parallel": 2}}) == 0
    text = read(console)
    assert text.count("; retrying") == 3 and "ConnectionError" in text
    assert [s for m, p, s in vertex.requests if m == "GET" and p.endswith("/1000")][:3] == [0, 0, 0]
    records = records_of(backend_for(vertex), "toy-1", tmp_path / "runs")
    assert [r.state for r in records] == ["SUCCEEDED"] * 4
    best = min(records, key=lambda r: r.objective)  # goal: minimize
    assert f"best trial: {best.trial_id}  loss = {best.objective:.6g}" in text
    assert f"artifacts:  gs://acme-sweeps/artifacts/toy/toy-1/{best.trial_id}" in text
    for record in records:  # the toy's loss: (x - 1)^2 + 4 + 10 / step, best at its last step 3
        assert record.objective == pytest.approx((record.parameters["x"] - 1) ** 2 + 4 + 10 / 3)
    assert "4/4 done, 0 running" in text and "job JOB_STATE_SUCCEEDED" in text


def test_a_connection_gone_quiet_times_out_and_is_retried(vertex, sweep, console):
    vertex.fail_next(Fault("GET", stall=2.0, path=GET_JOB))
    impatient = dataclasses.replace(settings_for(vertex), call_timeout_s=0.3)
    assert sweep(settings=impatient) == 0
    assert "ReadTimeout" in read(console) and "best trial:" in read(console)


def test_giving_up_after_the_deadline_says_how_to_watch_again(vertex, sweep, console):
    vertex.fail_next(Fault("GET", drop=True, times=10_000, path=GET_JOB))
    patient = settings_for(vertex, RETRY.with_delay(initial=0.01, maximum=0.02).with_timeout(0.3))
    assert sweep(settings=patient) == 1
    assert "the job runs on; watch again with: invoke tune --resume toy-1" in read(console)


def test_trials_without_a_final_measurement_end_infeasible_and_the_job_fails(tmp_path, vertex, sweep, console):
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["crash"]}},
            "trials": {"max": 2, "parallel": 1, "max_failed": 2}}
    assert sweep(spec=spec) == 1
    records = records_of(backend_for(vertex), "toy-1", tmp_path / "runs")
    assert [(r.state, r.objective, r.reason) for r in records] == \
        [("INFEASIBLE", None, "the trial exited with status 3")] * 2
    text = read(console)
    assert "trial 1 INFEASIBLE: 15 (the trial exited with status 3)" in text  # its value so far
    assert "2 failed" in text and "job failed: 2 trials failed" in text and "no trial has succeeded" in text


def test_status_and_cancel(tmp_path, vertex, sweep, console):
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["hang"]}}, "trials": {"max": 3, "parallel": 2}}
    assert sweep(spec=spec, detach=True) == 0
    (job,) = vertex.jobs.values()
    vertex.wait_until(lambda: len(job.trials) == 2)
    runs, settings = tmp_path / "runs", settings_for(vertex)
    assert on_run(VertexBackend(settings), "status", "toy-1", console, runs) == 0
    assert "job projects/acme-ml/locations/us-central1/hyperparameterTuningJobs/1000 JOB_STATE_RUNNING" in read(console)
    assert "no trial has succeeded yet" in read(console)
    assert on_run(VertexBackend(settings), "cancel", "toy-1", console, runs) == 0
    assert "cancel requested for run toy-1" in read(console)
    vertex.wait_until(lambda: job.state == JobState.JOB_STATE_CANCELLED)
    assert on_run(VertexBackend(settings), "status", "toy-1", console, runs) == 1
    assert "job cancelled: CANCELED" in read(console)
    assert [r.reason for r in records_of(VertexBackend(settings), "toy-1", runs)] == ["job cancelled"] * 2
    assert read(console).count("job cancelled │") == 2  # the note column


def test_status_refuses_a_local_run(tmp_path, vertex, console):
    (tmp_path / "runs" / "here").mkdir(parents=True)
    (tmp_path / "runs" / "here" / "run.json").write_text(json.dumps({
        "run_id": "here", "backend": "local", "spec": "spec.yaml", "data_root": "data", "trials": 1, "parallel": 1}))
    with pytest.raises(RunError, match="run here is a local run, not a Vertex AI run"):
        on_run(backend_for(vertex), "status", "here", console, tmp_path / "runs")


def test_a_job_that_fails_on_quota_says_which_quota_to_raise(vertex, sweep, console):
    vertex.exhausted_quota = "aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus"
    assert sweep() == 1
    text = read(console)
    assert "job failed: The following quota metrics exceed quota limits" in text
    assert ("quota exhausted: aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus in project acme-ml, "
            "region us-central1") in text and "IAM & Admin > Quotas" in text


def test_unset_max_failed_lets_the_service_end_the_job_when_the_first_trial_fails(tmp_path, vertex, sweep, console):
    """maxFailedTrialCount 0: "If the first trial of your job fails, Agent Platform ends the job immediately"."""
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["crash"]}}, "trials": {"max": 6, "parallel": 1}}
    assert sweep(spec=spec) == 1
    (job,) = vertex.jobs.values()
    assert job.max_failed_trial_count == 0
    assert [r.state for r in records_of(backend_for(vertex), "toy-1", tmp_path / "runs")] == ["INFEASIBLE"]
    assert "job failed: 1 trials failed" in read(console)


def test_max_failed_stops_the_job_there(tmp_path, vertex, sweep, console):
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["crash"]}},
            "trials": {"max": 6, "parallel": 1, "max_failed": 2}}
    assert sweep(spec=spec) == 1
    assert len(records_of(backend_for(vertex), "toy-1", tmp_path / "runs")) == 2
    assert "job failed: 2 trials failed" in read(console)


def test_a_trial_past_its_timeout_is_ended_by_the_service(tmp_path, vertex, sweep, console):
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["hang"]}}, "trials": {"max": 1}}
    assert sweep(spec=spec, trial_timeout=1) == 1
    (job,) = vertex.jobs.values()
    assert job.trial_job_spec.scheduling.timeout.seconds == 1
    (record,) = records_of(backend_for(vertex), "toy-1", tmp_path / "runs")
    assert (record.state, record.reason) == ("INFEASIBLE", "the trial's job ran past its scheduling timeout")


def test_the_service_stops_trials_early_and_the_live_table_says_so(tmp_path, vertex, sweep, console):
    """Vertex AI, not the trainer, decides: the stand-in applies the median rule to the reported measurements,
    moves the trial to STOPPING, sends SIGTERM, and ends it SUCCEEDED with what it reported."""
    vertex.random.seed(19)  # good, good, good, then bad ones: the median is a good trial's by then
    spec = {"parameters": {"mode": {"type": "categorical", "values": ["good", "bad"]}}, "early_stopping": "median",
            "trials": {"max": 6, "parallel": 1},
            "trainer": {"command": TOY, "args": ["--steps=4", "--step_seconds=0.05"]}}
    assert sweep(spec=spec) == 0
    records = records_of(backend_for(vertex), "toy-1", tmp_path / "runs")
    bad = [r for r in records if r.parameters["mode"] == "bad"]
    assert bad and all(r.state == "SUCCEEDED" for r in records)
    stopped = [r for r in bad if r.step < 48]  # a bad trial that ran to its end reports 48 steps
    assert stopped == bad, [(r.trial_id, r.step) for r in bad]
    text = read(console)
    for record in stopped:
        assert f"trial {record.trial_id} SUCCEEDED" in text
        assert f"(stopped early by Vertex AI at step {record.step})" in text


TAG_PATH = r"/tags$"
PACKAGE = "projects/acme-ml/locations/us-central1/repositories/vision-sweeps/packages/trainer"


def test_a_run_tags_its_image_so_the_registry_keeps_it(tmp_path, vertex, sweep, console):
    assert sweep(detach=True) == 0
    assert vertex.tags == {(PACKAGE, "run-toy-1"): f"{PACKAGE}/versions/sha256:" + "0123456789abcdef" * 4}
    shutil.rmtree(tmp_path / "runs")  # submitted again: the tag exists (409), which is fine
    assert sweep(detach=True) == 0
    assert "could not tag" not in read(console) and len(vertex.tags) == 1
    assert sweep(run_id="toy-2", dry_run=True) == 0 and len(vertex.tags) == 1  # a dry run tags nothing


def test_a_tag_refused_is_a_warning_and_the_sweep_still_runs(vertex, sweep, console):
    vertex.fail_next(Fault("POST", 403, "Permission 'artifactregistry.tags.create' denied", path=TAG_PATH))
    assert sweep(detach=True) == 0 and len(vertex.jobs) == 1 and not vertex.tags
    text = read(console)
    assert "warning: could not tag the image as run-toy-1" in text and "artifactregistry.tags.create" in text
    assert "`invoke infra.up` grants launchers the tagger role" in text
