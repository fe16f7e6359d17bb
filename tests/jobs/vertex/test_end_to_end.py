"""From a spec and the stack's outputs to finished trials whose artifacts are on (emulated) GCS, and
to the report of the run.

The stand-in runs the reference trainer (``python -m trainer``) for each trial, as the trainer image
would, reading its data from gs:// and writing metrics.json to AIP_MODEL_DIR on the GCS emulator.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from jobs.report import report
from jobs.vertex.backend import VertexBackend
from tests.support.helpers import make_split
from tests.support.sweeps import on_run, records_of, tune_with
from tests.support.vertex import read, settings_for, write_outputs, write_spec
from tests.support.vertex_standin import VertexStandIn
from trainer import uri

pytestmark = pytest.mark.slow


def sweep_and_report(tmp_path, bucket, console, spec, run_id: str, seed: int = 0):
    """Upload a small split to the bucket, run ``spec`` on the stand-in (the reference trainer as each trial's
    container), then report it and show its status; returns (tune status, the run's records, report status)."""
    for local in make_split(tmp_path / "data", rows=120):
        uri.write_bytes(f"gs://{bucket}/data/{local.name}", local.read_bytes())
    with VertexStandIn(tmp_path / "vertex", seed=seed) as vertex:
        settings = settings_for(vertex)
        chosen = VertexBackend(settings)
        status = tune_with(chosen, str(spec), outputs=str(write_outputs(tmp_path / "outputs.json", bucket)),
                           run_id=run_id, runs_dir=tmp_path / "runs", console=console)
        records = records_of(chosen, run_id, tmp_path / "runs")
        reported = report([run_id], latest=False, out=None, runs_dir=tmp_path / "runs", console=console,
                          choose=lambda name: chosen)
        console.print("--- status ---")
        on_run(chosen, "status", run_id, console, tmp_path / "runs")
    return status, records, reported


def test_spec_to_trials_on_gcs(tmp_path, bucket, console):
    spec = write_spec(tmp_path / "spec.yaml", name="e2e", metric={"id": "validation_accuracy", "goal": "maximize"},
                      parameters={"learning_rate": {"type": "double", "min": 1e-3, "max": 1e-1, "scale": "log"},
                                  "hidden": {"type": "discrete", "values": [4, 8]}},
                      trainer={"args": ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=3",
                                        "--layers=1", "--log_every=0"]},
                      trials={"max": 2, "parallel": 2})
    status, records, reported = sweep_and_report(tmp_path, bucket, console, spec, "e2e-1")
    assert status == 0 and reported == 0, read(console)
    assert [(r.trial_id, r.state) for r in records] == [("1", "SUCCEEDED"), ("2", "SUCCEEDED")]
    for record in records:
        assert record.artifact_dir == f"gs://{bucket}/artifacts/e2e/e2e-1/{record.trial_id}"
        metrics = json.loads(uri.read_bytes(f"{record.artifact_dir}/model/metrics.json"))
        assert metrics["learning_rate"] == pytest.approx(record.parameters["learning_rate"])
        assert metrics["hidden"] == record.parameters["hidden"] and record.parameters["hidden"] in (4.0, 8.0)
        assert 0.0 <= record.objective <= 1.0 and record.step is not None and 1 <= record.step <= 3
        assert record.duration_s > 0
    best = max(records, key=lambda r: r.objective)
    text = read(console)
    assert f"best trial: {best.trial_id}  validation_accuracy = {best.objective:.6g}" in text
    assert "2/2 done" in text

    # The report: the job's trials (parameters, states, objectives) joined with metrics.json from GCS.
    table = pd.read_csv(tmp_path / "runs" / "e2e-1" / "trials.csv", dtype={"trial_id": str})
    assert list(table["trial_id"]) == ["1", "2"] and set(table["state"]) == {"SUCCEEDED"}
    for record in records:
        row = table.set_index("trial_id").loc[record.trial_id]
        metrics = json.loads(uri.read_bytes(f"{record.artifact_dir}/model/metrics.json"))
        assert row["objective"] == pytest.approx(record.objective)
        assert row["learning_rate"] == pytest.approx(record.parameters["learning_rate"])
        assert row["final_val_loss"] == pytest.approx(metrics["final_val_loss"])
        assert row["artifact_dir"] == record.artifact_dir and pd.isna(row["error"])
    assert (tmp_path / "runs" / "e2e-1" / "report.html").stat().st_size > 10_000


def test_trials_vertex_stops_early_keep_their_artifacts_and_the_report_shows_them(tmp_path, bucket, console):
    """The service's median rule stops a hopeless trial: the reference trainer gets SIGTERM, writes its
    artifacts with stopped_by, the trial ends SUCCEEDED, and the report's early-stopping figure names it."""
    spec = write_spec(tmp_path / "spec.yaml", name="stops", metric={"id": "validation_accuracy", "goal": "maximize"},
                      parameters={"learning_rate": {"type": "discrete", "values": [1e-6, 0.1]}},
                      early_stopping="median",
                      trainer={"args": ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=20000",
                                        "--patience=20", "--min_delta=0", "--hidden=8", "--layers=1", "--log_every=0"]},
                      trials={"max": 3, "parallel": 1})
    # the stand-in's seed 0 samples 0.1, 0.1, then 1e-6
    status, records, reported = sweep_and_report(tmp_path, bucket, console, spec, "stops-1", seed=0)
    assert status == 0 and reported == 0, read(console)
    slow = [r for r in records if r.parameters["learning_rate"] == 1e-6]
    assert [r.state for r in records] == ["SUCCEEDED"] * 3 and len(slow) == 1
    (stopped,) = slow
    metrics = json.loads(uri.read_bytes(f"{stopped.artifact_dir}/model/metrics.json"))
    assert metrics["stopped_by"] == "SIGTERM" and metrics["stopped_epoch"] < 20000
    table = pd.read_csv(tmp_path / "runs" / "stops-1" / "trials.csv", dtype={"trial_id": str}).set_index("trial_id")
    assert table.loc[stopped.trial_id, "stopped_by"] == "SIGTERM"
    page = (tmp_path / "runs" / "stops-1" / "report.md").read_text()
    assert f"1 of 3 trials stopped early (median), median at step {stopped.step}: trial {stopped.trial_id}" in page
    live, status_text = read(console).split("--- status ---")
    assert f"stopped early by Vertex AI at step {stopped.step}" in live
    row = next(line for line in status_text.splitlines() if re.match(rf"^│\s+{stopped.trial_id} │", line))
    assert f"stopped early by Vertex AI at step {stopped.step}" in row  # after the fact, from metrics.json
    assert status_text.count("stopped early") == 1
