"""trials.max_cost: refused before submission when the worst case is above it, enforced while the job runs
(on the stand-in, whose trials run for real and carry their start and end times), reported afterwards."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from google.cloud.aiplatform_v1.types import JobState

from jobs.report import report
from jobs.runs import RunFolder
from jobs.vertex.commands import VertexBackend
from jobs.vertex.cost import CeilingError, load_prices
from tests.jobs.sweeps import tune_with
from tests.jobs.vertex.conftest import read, settings_for, write_outputs, write_spec

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


@pytest.mark.slow
def test_trials_that_run_longer_than_expected_are_cancelled_before_the_ceiling(tmp_path, vertex, bucket, console):
    """Trials expected to take a second run ten: the job is cancelled once their cost would reach max_cost, and
    the report shows what each trial and the sweep cost, below the ceiling."""
    max_cost = 10 * HOURLY / 3600  # 10 trial-seconds; with 2 s kept for the cancel, it stops at about 6
    spec = write_spec(tmp_path / "spec.yaml", trials={"max": 6, "parallel": 2, "max_cost": max_cost},
                      trainer={"command": list(vertex.entrypoint), "args": ["--steps=200", "--step_seconds=0.05"]})
    backend = VertexBackend(dataclasses.replace(settings_for(vertex), cancel_s=2.0))
    status = tune_with(backend, str(spec), outputs=str(write_outputs(tmp_path / "outputs.json", bucket)), run_id="c-2",
                       minutes_per_trial=1 / 60, runs_dir=tmp_path / "runs", console=console)
    text = read(console)
    assert status == 1 and "cancelling the job before it crosses the ceiling" in text, text
    [job] = vertex.jobs.values()
    assert job.state == JobState.JOB_STATE_CANCELLED and len(job.trials) == 2  # no trial started after
    seconds = sum((t.end_time.ToDatetime() - t.start_time.ToDatetime()).total_seconds() for t in job.trials)
    spent = seconds / 3600 * HOURLY
    assert 0.4 * max_cost < spent < max_cost

    assert report(["c-2"], latest=False, out=None, runs_dir=tmp_path / "runs", console=console,
                  choose=lambda name: backend) == 0
    table = pd.read_csv(tmp_path / "runs" / "c-2" / "trials.csv")
    assert list(table.columns[table.columns.get_loc("duration_s"):][:2]) == ["duration_s", "cost"]
    assert table["cost"].sum() == pytest.approx(spent, rel=0.05) and table["cost"].sum() < max_cost
    assert RunFolder.open("c-2", tmp_path / "runs").meta().max_cost == pytest.approx(max_cost)
    assert "trials cost 0.000" in (tmp_path / "runs" / "c-2" / "report.md").read_text()
