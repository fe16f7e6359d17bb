"""trials.max_cost: refused before submission when the worst case is above it, enforced while the job runs
(on the stand-in, whose trials run for real and carry their start and end times), reported afterwards."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pandas as pd
import pytest
from google.cloud.aiplatform_v1.types import JobState

from jobs.cloud.cost import CeilingError, lower_ceiling
from jobs.report import report
from jobs.report.text import number
from jobs.run.folder import RunFolder
from jobs.vertex.backend import VertexBackend, VertexRun
from jobs.vertex.cost import load_prices
from tests.support.helpers import REPO
from tests.support.sweeps import tune_with
from tests.support.vertex import read, settings_for, write_outputs, write_spec

PRICES = load_prices()
HOURLY = PRICES.machines["n1-standard-4"] + 100 * PRICES.disks["pd-ssd"]


def test_a_worst_case_above_the_ceiling_is_refused_saying_what_fits(tmp_path, console):
    spec = write_spec(tmp_path / "spec.yaml", trials={"max": 60, "parallel": 2, "max_cost": 1.0})
    with pytest.raises(CeilingError) as refused:
        tune_with(VertexBackend(), str(spec), outputs=str(write_outputs(tmp_path / "outputs.json")), run_id="c-1",
                  dry_run=True, runs_dir=tmp_path / "runs", console=console)
    fits = int(1.0 // (10 / 60 * HOURLY))
    assert f"is above trials.max_cost 1 USD: {fits} trials fit (--trials {fits})" in str(refused.value)
    assert tune_with(VertexBackend(), str(spec), outputs=str(tmp_path / "outputs.json"), run_id="c-1", dry_run=True,
                     trials=fits, runs_dir=tmp_path / "runs", console=console) == 0
    with pytest.raises(CeilingError, match=f"max_cost 2 USD: {int(2.0 // (10 / 60 * HOURLY))} trials fit"):  # the flag
        tune_with(VertexBackend(), str(spec), outputs=str(tmp_path / "outputs.json"), run_id="c-1", dry_run=True,
                  max_cost=2.0, runs_dir=tmp_path / "runs", console=console)


def test_a_ceiling_asked_again_applies_the_lower_one_and_run_json_records_it(tmp_path):
    folder = RunFolder.create(write_spec(tmp_path / "spec.yaml"), VertexRun(
        run_id="r", backend="vertex", spec="spec.yaml", data_root="gs://b/data", project="acme-ml",
        region="us-central1", job="projects/acme-ml/locations/us-central1/hyperparameterTuningJobs/1000", trials=3,
        parallel=2, trainer_service_account="vision-trainer@acme-ml.iam.gserviceaccount.com", hourly_cost=HOURLY,
        currency="USD", max_cost=0.5), tmp_path / "runs")
    meta = folder.meta().of(VertexRun)
    kept, said = lower_ceiling(folder, meta, 2.0)
    assert kept == meta and RunFolder(folder.root).meta().max_cost == 0.5
    assert said == "run r: --max-cost 2 USD is not below its trials.max_cost 0.5 USD: the lower one, 0.5 USD, stays"
    lowered, said = lower_ceiling(folder, meta, 0.0001)
    assert lowered.max_cost == 0.0001 and RunFolder(folder.root).meta().of(VertexRun) == lowered
    assert said == ("run r: trials.max_cost lowered to 0.0001 USD (was 0.5 USD) and recorded in run.json; it holds "
                    "while the run is followed")
    assert not list(folder.root.glob(".*.tmp"))
    with pytest.raises(CeilingError, match="^run r: --max-cost 1 cannot be enforced: the run has no recorded price "):
        lower_ceiling(folder, meta.model_copy(update={"hourly_cost": None}), 1.0)


@pytest.mark.slow
def test_trials_that_run_longer_than_expected_are_cancelled_before_the_ceiling(tmp_path, vertex, bucket, console):
    """Trials expected to take a second run twenty: the job is cancelled once their cost would reach max_cost (long
    before their 10 s timeouts end them), and the report shows what each trial and the sweep cost, below the
    ceiling."""
    max_cost = 60 * HOURLY / 3600  # 60 trial-seconds: each of the 6 trials' timeout is 10 s
    reserve = 2 * (2 * 0.05 + 24.0)  # trial-seconds the guard keeps for 2 running trials: 2 polls and the cancel
    spec = write_spec(tmp_path / "spec.yaml", trials={"max": 6, "parallel": 2, "max_cost": max_cost},
                      trainer={"command": list(vertex.entrypoint), "args": ["--steps=400", "--step_seconds=0.05"]})
    backend = VertexBackend(dataclasses.replace(settings_for(vertex), cancel_s=24.0))
    status = tune_with(backend, str(spec), outputs=str(write_outputs(tmp_path / "outputs.json", bucket)), run_id="c-2",
                       minutes_per_trial=1 / 60, runs_dir=tmp_path / "runs", console=console)
    text = read(console)
    assert status == 1 and "cancelling the job before it crosses the ceiling" in text, text
    [job] = vertex.jobs.values()
    assert job.state == JobState.JOB_STATE_CANCELLED and len(job.trials) == 2  # no trial started after
    seconds = sum((t.end_time.ToDatetime() - t.start_time.ToDatetime()).total_seconds() for t in job.trials)
    spent = seconds / 3600 * HOURLY
    assert (60 - reserve) * HOURLY / 3600 <= spent < max_cost

    assert report(["c-2"], latest=False, out=None, runs_dir=tmp_path / "runs", console=console,
                  choose=lambda name: backend) == 0
    table = pd.read_csv(tmp_path / "runs" / "c-2" / "trials.csv")
    assert list(table.columns[table.columns.get_loc("duration_s"):][:2]) == ["duration_s", "cost"]
    assert table["cost"].sum() == pytest.approx(spent, rel=0.05) and table["cost"].sum() < max_cost
    assert RunFolder.open("c-2", tmp_path / "runs").meta().max_cost == pytest.approx(max_cost)
    assert "trials cost 0.000" in (tmp_path / "runs" / "c-2" / "report.md").read_text()


@pytest.mark.slow
def test_the_ceiling_holds_after_its_follower_is_killed(tmp_path, vertex):
    """Trials that would hang for an hour, a follower killed with SIGKILL: each trial's scheduling.timeout, cut to
    what the ceiling pays, ends it, so the job costs no more than max_cost with nobody following."""
    max_cost = 2 * 2.9 * HOURLY / 3600  # 2 trials x 2.9 s at most: each trial's timeout is 2 s
    spec = write_spec(tmp_path / "spec.yaml", trials={"max": 2, "parallel": 2, "max_cost": max_cost},
                      parameters={"mode": {"type": "categorical", "values": ["hang"]}})
    request = {"spec": str(spec), "outputs": str(write_outputs(tmp_path / "outputs.json")), "run_id": "c-9",
               "minutes_per_trial": 1 / 60, "runs_dir": str(tmp_path / "runs")}
    with open(tmp_path / "follower.log", "w") as log:
        follower = subprocess.Popen([sys.executable, "-m", "tests.support.vertex_follower", vertex.url,
                                     json.dumps(request)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        vertex.wait_until(lambda: any(len(job.trials) == 2 for job in vertex.jobs.values()) or follower.poll(),
                          timeout=120)  # the process's imports take seconds on a busy machine
        assert follower.poll() is None, (tmp_path / "follower.log").read_text()
        [(name, job)] = vertex.jobs.items()
        vertex.wait_until(lambda: ("GET", f"/v1/{name}", 200) in vertex.requests)  # it follows the job
    finally:
        follower.kill()
        follower.wait()
    assert job.trial_job_spec.scheduling.timeout.seconds == 2
    vertex.wait_until(lambda: job.state == JobState.JOB_STATE_FAILED)
    assert [t.infeasible_reason for t in job.trials] == ["the trial's job ran past its scheduling timeout"] * 2
    seconds = sum((t.end_time.ToDatetime() - t.start_time.ToDatetime()).total_seconds() for t in job.trials)
    assert seconds / 3600 * HOURLY <= max_cost


@pytest.mark.slow
def test_a_lower_ceiling_on_resume_is_recorded_enforced_and_the_report_says_the_run_went_past_it(tmp_path, vertex,
                                                                                                 bucket, console):
    spec = write_spec(tmp_path / "spec.yaml", trials={"max": 2, "parallel": 2, "max_cost": 0.5},
                      parameters={"mode": {"type": "categorical", "values": ["hang"]}})
    backend, runs = VertexBackend(settings_for(vertex)), tmp_path / "runs"
    assert tune_with(backend, str(spec), outputs=str(write_outputs(tmp_path / "outputs.json", bucket)), run_id="c-3",
                     detach=True, minutes_per_trial=1, runs_dir=runs, console=console) == 0
    [job] = vertex.jobs.values()
    vertex.wait_until(lambda: len(job.trials) == 2)
    assert tune_with(backend, resume="c-3", max_cost=2.0, detach=True, runs_dir=runs, console=console) == 0
    assert "run c-3: --max-cost 2 USD is not below its trials.max_cost 0.5 USD: the lower one, 0.5 USD, stays" \
        in read(console)
    assert tune_with(backend, resume="c-3", max_cost=1e-6, detach=True, runs_dir=runs, console=console) == 0
    assert ("run c-3: trials.max_cost lowered to 1e-06 USD (was 0.5 USD) and recorded in run.json; it holds while "
            "the run is followed") in read(console)
    assert RunFolder.open("c-3", runs).meta().max_cost == 1e-6
    assert tune_with(backend, resume="c-3", runs_dir=runs, console=console) == 1  # cancelled at its first poll
    assert "still running: cancelling the job now that it is past the ceiling" in read(console)
    assert job.state == JobState.JOB_STATE_CANCELLED

    assert report(["c-3"], latest=False, out=None, runs_dir=runs, console=console, choose=lambda name: backend) == 0
    spent = pd.read_csv(runs / "c-3" / "trials.csv")["cost"].sum()
    assert spent > 1e-6
    title = (runs / "c-3" / "report.md").read_text().splitlines()[0]
    assert title == f"# toy · run c-3 — cost {number(spent)} USD, past the 1e-06 USD ceiling"
