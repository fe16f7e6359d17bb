"""Spot and flex-start trials (vertex.scheduling): the request as the REST API names it, the price of what was
asked for in the estimate, the ceiling and the report, Spot preemption on the stand-in; and what a Vertex AI sweep
is told about early stopping."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from google.cloud.aiplatform_v1.types import JobState, Scheduling

from jobs.cloud.cost import trial_timeout
from jobs.cloud.stack import load_outputs
from jobs.report import report
from jobs.spec import load_spec, parse_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.cost import PriceError, estimate_cost, load_prices
from jobs.vertex.request import RequestError, build_tuning_job, request_json
from jobs.vertex.resources import check
from tests.support.helpers import invoke
from tests.support.sweeps import on_run, records_of, tune_with
from tests.support.vertex import DIGEST, read, settings_for, write_outputs, write_spec

TODAY = dt.date(2026, 12, 5)
L4 = {"machine_type": "g2-standard-4", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1}
SPOT_PRICES = """\
sources: {quote: our Spot quote of 2026-12-01}
spot:
  machines: {n1-standard-4: {usd: 0.05, source: quote}}
  accelerators: {NVIDIA_TESLA_T4: {usd: 0.1, source: quote}}
"""


def spec(**vertex):
    """A spec with this vertex section, checked as the Vertex AI backend checks it."""
    data = {"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 12, "parallel": 3},
            "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, "vertex": vertex}
    return check(parse_spec(data, "s.yaml"), "s.yaml")


@pytest.fixture
def outputs(tmp_path):
    cuda = f"us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@{DIGEST}"
    return load_outputs(outputs_file=write_outputs(tmp_path / "outputs.json", cuda_image=cuda))


def scheduling_json(job) -> dict | None:
    return json.loads(request_json(job))["trialJobSpec"].get("scheduling")


def test_the_request_names_the_strategy_and_the_wait_as_the_rest_api_does(outputs):
    assert scheduling_json(build_tuning_job(spec(), outputs, "r-1")) is None  # standard: the service's default
    assert scheduling_json(build_tuning_job(spec(scheduling="spot"), outputs, "r-1")) == {"strategy": "SPOT"}
    assert scheduling_json(build_tuning_job(spec(scheduling="spot"), outputs, "r-1", trial_timeout_s=600)) == {
        "timeout": "600s", "strategy": "SPOT"}
    flex = build_tuning_job(spec(**L4, scheduling="flex_start", max_wait_minutes=30), outputs, "r-1")
    assert scheduling_json(flex) == {"strategy": "FLEX_START", "maxWaitDuration": "1800s"}
    assert flex.trial_job_spec.scheduling.strategy == Scheduling.Strategy.FLEX_START
    forever = build_tuning_job(spec(**L4, scheduling="flex_start", max_wait_minutes=0), outputs, "r-1")
    assert scheduling_json(forever) == {"strategy": "FLEX_START", "maxWaitDuration": "0s"}  # 0: wait indefinitely
    with pytest.raises(RequestError) as refused:
        build_tuning_job(spec(**L4, scheduling="flex_start"), outputs, "r-1", trial_timeout_s=8 * 24 * 3600)
    assert str(refused.value) == (
        "--trial-timeout 691200: vertex.scheduling flex_start runs each trial for at most 7 days (604800 s, Dynamic "
        "Workload Scheduler's limit): give a shorter --trial-timeout, or use standard or spot")


def test_the_stand_in_receives_the_strategy_the_sdk_sends(tmp_path, vertex, console):
    path = write_spec(tmp_path / "spec.yaml", vertex={"scheduling": "spot"})
    assert tune_with(VertexBackend(settings_for(vertex)), str(path), outputs=str(write_outputs(tmp_path / "o.json")),
                     run_id="spot-1", detach=True, runs_dir=tmp_path / "runs", console=console) == 0
    [job] = vertex.jobs.values()
    assert job.trial_job_spec.scheduling.strategy == Scheduling.Strategy.SPOT


def test_a_spot_sweep_is_priced_at_spot_prices_and_says_what_spot_saves(tmp_path):
    (tmp_path / "spot.yaml").write_text(SPOT_PRICES)
    prices = load_prices(tmp_path / "spot.yaml")
    disk = 100 * prices.disks["pd-ssd"]
    standard_hourly = prices.machines["n1-standard-4"] + disk
    spot = estimate_cost(spec(scheduling="spot"), prices, 30, today=TODAY)
    assert spot.hourly == pytest.approx(0.05 + disk)
    assert spot.total == pytest.approx(12 * 0.5 * (0.05 + disk))
    text = spot.text()
    assert f"= {0.05 + disk:.4f} USD/h at Spot prices;" in text
    assert "n1-standard-4: our Spot quote of 2026-12-01" in text
    saving = standard_hourly - spot.hourly
    said = (f"Spot saves {saving:.4f} USD/h ({saving / standard_hourly:.0%}) on n1-standard-4: up to "
            f"{spot.total:.2f} against {12 * 0.5 * standard_hourly:.2f} USD for this sweep")
    assert said in text
    standard = estimate_cost(spec(), prices, 30, today=TODAY)
    assert standard.hourly == pytest.approx(standard_hourly) and said in standard.text()
    assert "vertex.scheduling: spot" in standard.text()
    # the ceiling's per-trial timeout pays for trials at the price of what was asked for
    capped = check(parse_spec({**spec(scheduling="spot").model_dump(exclude_none=True),
                               "trials": {"max": 12, "parallel": 3, "max_cost": 0.1}}, "s.yaml"), "s.yaml")
    assert trial_timeout(capped, estimate_cost(capped, prices, 30, today=TODAY), None, 60) == \
        int(0.1 / (12 * spot.hourly) * 3600)
    gpu = spec(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1)
    assert "Spot saves" not in estimate_cost(gpu, prices, 30, today=TODAY).text()  # no Spot n1-standard-8 price


def test_without_a_spot_price_the_estimate_is_unknown_and_says_where_to_add_one():
    estimate = estimate_cost(spec(scheduling="spot"), load_prices(), 30, today=TODAY)
    assert estimate.total is None
    assert estimate.text() == ("estimated cost: unknown; no Spot price for machine type 'n1-standard-4' in the table; "
                               "add it under spot: machines: with --prices FILE")
    flex = estimate_cost(spec(**L4, scheduling="flex_start"), load_prices(), 30, today=TODAY)
    assert "no flex-start price for machine type 'g2-standard-4' in the table; add it under flex_start: machines: " \
           "with --prices FILE; no flex-start price for accelerator 'NVIDIA_L4'" in flex.text()
    assert "Spot saves" not in estimate_cost(spec(), load_prices(), 30, today=TODAY).text()


def test_invoke_refuses_a_spot_ceiling_it_cannot_price_in_one_line(tmp_path):
    write_spec(tmp_path / "spec.yaml", vertex={"scheduling": "spot"}, trials={"max": 3, "parallel": 1, "max_cost": 5})
    write_outputs(tmp_path / "outputs.json")
    done = invoke("tune", "--backend", "vertex", "--spec", "spec.yaml", "--outputs", "outputs.json", "--dry-run",
                  cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "tune: trials.max_cost 5 USD cannot be enforced: no Spot price for machine type 'n1-standard-4' in the table; "
        "add it under spot: machines: with --prices FILE"]


def test_a_spot_section_is_checked_like_the_others(tmp_path):
    mine = tmp_path / "prices.yaml"
    mine.write_text("spot: {machines: {n1-standard-4: -1}}\n")
    with pytest.raises(PriceError, match=r"prices.yaml: spot.machines.n1-standard-4 is -1: a price must be a finite"):
        load_prices(mine)
    mine.write_text("spot: {disks: {pd-ssd: 0.0001}}\n")
    with pytest.raises(PriceError, match=r"prices.yaml: spot takes machines and accelerators \(boot disks cost as "
                                         r"standard\), not disks"):
        load_prices(mine)
    mine.write_text("flex_start: [1]\n")
    with pytest.raises(PriceError, match=r"prices.yaml: flex_start must be a mapping of machines and accelerators"):
        load_prices(mine)


def test_spot_preemption_is_retried_six_times_then_the_trial_fails_and_says_so(tmp_path, vertex, bucket, console):
    """use-spot-vms: a preempted job "fails with a STOCKOUT error and Compute Engine tries to restart the job up to six
    times". Trial 1 is preempted six times and runs on; trial 2 a seventh time, and fails with STOCKOUT."""
    vertex.preempt = {"1": 6, "2": 7}
    path = write_spec(tmp_path / "spec.yaml", vertex={"scheduling": "spot"}, trials={"max": 2, "parallel": 2})
    backend, runs = VertexBackend(settings_for(vertex)), tmp_path / "runs"
    assert tune_with(backend, str(path), outputs=str(write_outputs(tmp_path / "o.json", bucket)), run_id="spot-2",
                     runs_dir=runs, console=console) == 0
    [job] = vertex.jobs.values()
    assert vertex.restarts == {"1": 6, "2": 6}
    first, second = records_of(backend, "spot-2", runs)
    assert first.state == "SUCCEEDED" and not first.reason
    assert second.state == "INFEASIBLE" and second.reason.startswith(
        "preempted: its Spot VM was reclaimed and not restarted (STOCKOUT: ")
    assert on_run(backend, "status", "spot-2", console, runs) == 0
    row = next(line for line in read(console).splitlines() if re.match(r"^│\s+2 │", line))
    assert "preempted: its Spot VM was reclaimed" in row
    assert report(["spot-2"], latest=False, out=None, runs_dir=runs, console=console,
                  choose=lambda name: backend) == 0
    assert "1 preempted Spot trial(s) failed once Vertex AI's restarts were used up: trial 2" in \
        (runs / "spot-2" / "report.md").read_text()
    assert job.state == JobState.JOB_STATE_SUCCEEDED


def test_only_spot_trials_are_preempted(tmp_path, vertex, console):
    vertex.preempt = {"1": 7}
    path = write_spec(tmp_path / "spec.yaml", trials={"max": 1})
    backend = VertexBackend(settings_for(vertex))
    assert tune_with(backend, str(path), outputs=str(write_outputs(tmp_path / "o.json")), run_id="std-1",
                     runs_dir=tmp_path / "runs", console=console) == 0
    assert vertex.restarts == {}
    assert [r.state for r in records_of(backend, "std-1", tmp_path / "runs")] == ["SUCCEEDED"]


def test_flex_start_outside_its_documented_gpus_is_refused_by_the_stand_in(tmp_path, vertex, outputs):
    from jobs.cloud.google import GoogleApiError
    from jobs.vertex.client import VertexJobs, vertex_context

    job = build_tuning_job(spec(**L4, scheduling="flex_start"), outputs, "flex-1")
    pool = job.trial_job_spec.worker_pool_specs[0]
    pool.machine_spec.machine_type, pool.machine_spec.accelerator_type = "n1-standard-4", "NVIDIA_TESLA_T4"
    jobs = VertexJobs(vertex_context("acme-ml", "us-central1", outputs.trainer_service_account), settings_for(vertex))
    with pytest.raises(GoogleApiError, match="FLEX_START"):
        jobs.submit(job)
    assert vertex.creates() == 0


def test_a_vertex_sweep_with_early_stopping_is_told_what_google_documents(tmp_path, console):
    path = write_spec(tmp_path / "spec.yaml", early_stopping="median")
    assert tune_with(VertexBackend(), str(path), outputs=str(write_outputs(tmp_path / "o.json")), run_id="es-1",
                     dry_run=True, runs_dir=tmp_path / "runs", console=console) == 0
    text = " ".join(read(console).split())
    assert ("warning: early_stopping median is sent as StudySpec's median automated stopping spec, but Google does "
            "not document that a hyperparameter tuning job stops trials with it") in text
    assert "README, Benchmarks" in text
    assert '"medianAutomatedStoppingSpec": {}' in read(console)
    quiet = write_spec(tmp_path / "none.yaml")
    assert tune_with(VertexBackend(), str(quiet), outputs=str(tmp_path / "o.json"), run_id="es-2", dry_run=True,
                     runs_dir=tmp_path / "runs", console=console) == 0
    assert read(console).count("automated stopping spec") == 1
    assert load_spec(path).early_stopping == "median"
