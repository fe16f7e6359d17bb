"""Collecting trials from GCS (gcp-storage-emulator): the contract DataFrame cell by cell, broken
files, the best trial whatever the order, trial discovery, concurrent fetches."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import random

import pandas as pd
import pytest
from rich.console import Console

from jobs.cloud import storage
from jobs.report.collect import collect, trials_frame
from jobs.report.write import write_sweep_report
from tests.support.report_fixtures import synth_spec, synth_trials, under_artifacts_base, write_artifacts

BUCKET = "report-collect"
BASE = f"gs://{BUCKET}/artifacts/synth/synth-20250101-000000/"
COLUMNS = ["trial_id", "state", "objective", "learning_rate", "layers", "hidden", "optimizer", "momentum",
           "final_val_accuracy", "best_val_loss", "best_epoch", "early_stopped", "device",
           "duration_s", "artifact_dir", "error"]


@pytest.fixture(scope="module")
def uploaded(gcs_emulator):
    """200 trials under BASE: seven succeeded trials without metrics.json, one with a corrupt one,
    and two stopped trials whose objectives beat (maximize) and trail (minimize) every succeeded one."""
    client = storage.gcs_client()
    if client.lookup_bucket(BUCKET) is None:
        client.create_bucket(BUCKET)
    trials = synth_trials(200, seed=1)
    succeeded = [t for t in trials if t.record.state == "SUCCEEDED"]
    missing = random.Random(2).sample(succeeded[1:], 7)
    for t in missing:
        t.metrics = None
    corrupt = succeeded[0]
    failed = [t for t in trials if t.record.state == "FAILED"]
    for t, state in zip(failed[-2:], ("REQUESTED", "ACTIVE")):  # not finished: nothing to fetch, no error
        t.record = dataclasses.replace(t.record, state=state, reason="")
    stopped = [t for t in trials if t.record.state == "STOPPED"]
    stopped[0].record = dataclasses.replace(stopped[0].record, objective=0.999)
    stopped[1].record = dataclasses.replace(stopped[1].record, objective=0.001)
    write_artifacts(BASE, trials)
    torn = b'{"final_val_accuracy": 0.8,'
    storage.write_bytes(storage.join(BASE, corrupt.record.trial_id, "model", "metrics.json"), torn)
    return trials, {t.record.trial_id for t in missing}, corrupt.record.trial_id


def _same(got, want) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or pd.isna(got)
    return got == want


def test_200_trials_cell_by_cell(uploaded):
    trials, missing, corrupt = uploaded
    records = [t.record for t in trials]
    random.Random(3).shuffle(records)
    frame = trials_frame(under_artifacts_base(records, BASE), synth_spec())

    assert list(frame.columns) == COLUMNS
    assert frame["trial_id"].tolist() == [str(i) for i in range(1, 201)]
    rows = frame.set_index("trial_id")
    by_id = {t.record.trial_id: t for t in trials}
    failed = [i for i, t in by_id.items() if t.record.state == "FAILED"]
    unfinished = [i for i, t in by_id.items() if t.record.state in ("REQUESTED", "ACTIVE")]
    sample = random.Random(4).sample(sorted(by_id), 40) + sorted(missing) + [corrupt] + failed[:3] + unfinished
    for trial_id in sample:
        trial, row = by_id[trial_id], rows.loc[trial_id]
        record = trial.record
        assert row["state"] == record.state
        assert _same(row["objective"], record.objective)
        for pid in synth_spec().parameters:  # learning_rate: the parameter, not metrics.json's -1.0
            assert _same(row[pid], record.parameters.get(pid)), (trial_id, pid)
        broken = trial_id in missing or trial_id == corrupt
        for key in ("final_val_accuracy", "best_val_loss", "best_epoch", "early_stopped", "device"):
            want = trial.metrics[key] if trial.metrics and not broken else None
            assert _same(row[key], want), (trial_id, key)
        assert row["duration_s"] == record.duration_s
        assert row["artifact_dir"] == f"{BASE}{trial_id}"
        if trial_id == corrupt:
            assert row["error"].startswith("metrics.json corrupt: Expecting property name")
        elif trial_id in missing:
            assert row["error"] == "metrics.json missing"
        elif record.state == "FAILED":
            assert row["error"] == "exit code 1; metrics.json missing"
        elif record.state in ("SUCCEEDED", "REQUESTED", "ACTIVE"):
            assert row["error"] == ""
    assert (frame["error"] == "metrics.json missing").sum() == len(missing)


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_best_trial_by_goal_whatever_the_order(uploaded, goal):
    trials, missing, corrupt = uploaded
    records = [t.record for t in trials]
    random.Random(goal).shuffle(records)
    sweep = collect("synth-20250101-000000", synth_spec(goal), under_artifacts_base(records, BASE))

    succeeded = [r for r in records if r.state == "SUCCEEDED"]
    pick = max if goal == "maximize" else min
    expected = pick(succeeded, key=lambda r: r.objective)
    assert sweep.best()["trial_id"] == expected.trial_id
    assert records[0].trial_id != expected.trial_id and sweep.frame["trial_id"].iloc[0] != expected.trial_id
    assert pick(sweep.frame["objective"].dropna()) != expected.objective  # a stopped trial did better
    ranked = sweep.ranked()["objective"].tolist()
    assert ranked == sorted(ranked, reverse=goal == "maximize")
    top = sweep.ranked()["trial_id"].head(5).tolist()
    assert list(sweep.histories) == [t for t in top if t not in missing | {corrupt}]
    assert all(list(h.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy"] for h in sweep.histories.values())


def test_fetch_many_reports_each_failure_alone(tmp_path, bucket):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "folder").mkdir()
    storage.write_bytes(f"gs://{bucket}/x/metrics.json", b'{"a": 1}')
    wanted = [str(tmp_path / "a.json"), str(tmp_path / "gone.json"), str(tmp_path / "folder"),
              f"gs://{bucket}/x/metrics.json", f"gs://{bucket}/y/metrics.json", "gs://no-such-bucket-here/x"]
    got = storage.fetch_many(wanted + wanted[:2], workers=4)
    assert list(got) == wanted
    assert got[wanted[0]] == b"{}" and got[wanted[3]] == b'{"a": 1}'
    assert isinstance(got[wanted[1]], storage.ObjectNotFound) and isinstance(got[wanted[4]], storage.ObjectNotFound)
    assert isinstance(got[wanted[2]], IsADirectoryError)
    assert isinstance(got[wanted[5]], Exception)


@pytest.fixture
def production_gcs(monkeypatch):
    """GCS reached as in production (no emulator), with the credentials the test sets; clients rebuilt."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-ml")
    storage.gcs_client.cache_clear()
    yield
    storage.gcs_client.cache_clear()


def test_no_credentials_fail_the_whole_batch(tmp_path, production_gcs, monkeypatch):
    from google.auth.exceptions import DefaultCredentialsError

    (tmp_path / "a.json").write_text("{}")
    wanted = [str(tmp_path / "a.json")] + [f"gs://{BUCKET}/{i}/metrics.json" for i in range(8)]
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(DefaultCredentialsError):
        storage.fetch_many(wanted, workers=4)


def test_an_expired_login_fails_the_whole_batch(tmp_path, production_gcs, monkeypatch):
    """User credentials whose refresh the token endpoint refuses (the Vertex stand-in's /token answers
    invalid_grant, as Google's does): google.auth raises RefreshError before any request reaches GCS. The
    login is handed over as google.auth.default's answer: from a file, google.auth would always refresh
    against Google's own endpoint."""
    import google.auth
    from google.auth.exceptions import RefreshError
    from google.oauth2.credentials import Credentials

    from tests.support.vertex_standin import VertexStandIn

    with VertexStandIn(tmp_path / "vertex") as standin:
        expired = Credentials(token=None, refresh_token="expired", client_id="id", client_secret="secret",
                              token_uri=f"{standin.url}/token")
        monkeypatch.setattr(google.auth, "default", lambda *args, **kwargs: (expired, "acme-ml"))
        with pytest.raises(RefreshError, match="Token has been expired or revoked"):
            storage.fetch_many([f"gs://{BUCKET}/{i}/metrics.json" for i in range(8)], workers=4)
        assert {path for _, path, _ in standin.requests} == {"/token"}


def test_a_report_written_to_a_bucket(uploaded):
    trials, _, _ = uploaded
    records = [t.record for t in trials[:40]]
    out = f"gs://{BUCKET}/reports/synth-20250101-000000"
    console = Console(file=io.StringIO(), width=200)
    write_sweep_report(collect("synth-20250101-000000", synth_spec(), under_artifacts_base(records, BASE)), out,
                       console)

    written = {b.name.removeprefix("reports/synth-20250101-000000/")
               for b in storage.gcs_client().list_blobs(BUCKET, prefix="reports/")}
    assert {"trials.csv", "report.md", "report.html", "plots/importance.png", "plots/objective.png",
            "plots/parameters.png", "plots/parallel.png", "plots/curves.png", "plots/early_stopping.png"} <= written
    csv = pd.read_csv(io.BytesIO(storage.read_bytes(f"{out}/trials.csv")), dtype={"trial_id": str})
    assert list(csv.columns) == COLUMNS and len(csv) == 40
    best = max((r for r in records if r.state == "SUCCEEDED"), key=lambda r: r.objective)
    assert f"best trial: {best.trial_id} " in console.file.getvalue()
    # plain numbers (no numpy reprs), each trial's own, the exact value and not a rounded one
    assert csv["objective"].dtype == float and csv["learning_rate"].dtype == float
    assert csv["trial_id"].tolist() == [r.trial_id for r in records]
    for record, objective, rate in zip(records, csv["objective"], csv["learning_rate"]):
        assert _same(objective, record.objective) and rate == record.parameters["learning_rate"], record.trial_id


def test_hostile_metric_keys_huge_metrics_and_errors_in_view(tmp_path):
    """HTML in a metric key is text in report.md and report.html; a 20 MB metrics.json is not read; failed
    trials' reasons have a table of their own near the top."""
    trials = synth_trials(6, seed=3)
    for t in trials:
        t.record.state, t.record.reason = "SUCCEEDED", ""
        t.record.objective = t.record.objective or 0.5
        t.metrics = {"<script>alert(1)</script>": 1.0, "a|b": 2.0}
    trials[1].record.state, trials[1].record.reason, trials[1].metrics = "FAILED", "exit code 2: <b>bad</b>", None
    base = str(tmp_path / "artifacts")
    for t in trials:
        t.record.artifact_dir = storage.join(base, t.record.trial_id)
    write_artifacts(base, trials)
    (tmp_path / "artifacts" / "3" / "model" / "metrics.json").write_text(json.dumps({"blob": "x" * 20_000_000}))
    sweep = collect("r", synth_spec(), [t.record for t in trials])
    row = sweep.frame.set_index("trial_id").loc["3"]
    assert row["error"] == "metrics.json is 20.0 MB; files over 1 MB are not read (metrics belong there, not data)"
    write_sweep_report(sweep, str(tmp_path / "report"), Console(file=io.StringIO()))
    markdown = (tmp_path / "report" / "report.md").read_text()
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "<script>alert(1)</script>" not in page and "a\\|b" in markdown
    assert markdown.index("## Why trials failed (2)") < markdown.index("## All trials")
    assert "| 2 | failed | exit code 2: &lt;b&gt;bad&lt;/b&gt;; metrics.json missing |" in markdown
    assert page.index('id="failures"') < page.index('id="all"')
