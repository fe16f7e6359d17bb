"""The team view (`invoke report --teams`): run folders under runs/ and each team's Vertex AI jobs (on the JobService
stand-in) grouped by team and project, with trials and cost; without credentials, runs/ alone and one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from google.cloud.aiplatform_v1.types import JobState
from rich.console import Console

from jobs.backends import backend
from jobs.errors import UserError
from jobs.local.backend import LocalBackend
from jobs.report.teams import LOCAL, Place, by_team, parse_since, seen_sweeps, spend_text
from jobs.run.folder import RunFolder
from jobs.vertex.backend import VertexRun
from jobs.vertex.cost import hourly_price, load_prices
from jobs.vertex.resources import VertexResources
from tests.jobs.local.test_loop import toy_spec
from tests.support.helpers import invoke
from tests.support.sweeps import tune_local
from tests.support.vertex import backend_for
from tests.support.vertex_rules import JobPb, TrialPb
from tests.support.vertex_standin import VertexStandIn

NOW = dt.datetime.now(dt.UTC)
ACME = Place("acme-ml", "europe-west4", "vision")


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory) -> Path:
    """runs/ holding one real local sweep of two trials (spec toy, run toy-1)."""
    base = tmp_path_factory.mktemp("local")
    spec = toy_spec(base, parameters={"x": {"type": "double", "min": -3.0, "max": 3.0}},
                    trials={"max": 2, "parallel": 2})
    status = tune_local(str(spec), run_id="toy-1", runs_dir=base / "runs", data_root=str(base),
                        console=Console(file=open(Path(base) / "out.txt", "w"), width=200), seed=1)
    assert status == 0
    return base / "runs"


def runs_with_a_vertex_run(local_runs: Path, to: Path, created: dt.datetime = NOW) -> Path:
    """A copy of ``local_runs`` plus the record of Vertex AI run bc-1 of team vision in acme-ml (2 USD a trial-hour)."""
    runs = to / "runs"
    shutil.copytree(local_runs, runs)
    spec = runs / "toy-1" / "spec.yaml"
    RunFolder.create(spec, VertexRun(
        run_id="bc-1", backend="vertex", spec=str(spec), data_root="gs://b/data", trials=2, parallel=2,
        project=ACME.project, region=ACME.region,
        trainer_service_account="vision-trainer@acme-ml.iam.gserviceaccount.com",
        job=f"projects/acme-ml/locations/{ACME.region}/hyperparameterTuningJobs/1", hourly_cost=2.0, currency="USD",
        created=created.astimezone().replace(tzinfo=None).isoformat(timespec="seconds")), runs)
    return runs


def finished_job(standin: VertexStandIn, number: int, labels: dict, created: dt.datetime, hours: list[float],
                 place: Place = ACME) -> None:
    """A finished job on the stand-in, its trials each running ``hours`` on an n1-standard-4."""
    job = JobPb()
    job.name = f"projects/{place.project}/locations/{place.region}/hyperparameterTuningJobs/{number}"
    job.labels.update(labels)
    job.create_time.FromDatetime(created)
    job.state = JobState.JOB_STATE_SUCCEEDED
    job.trial_job_spec.worker_pool_specs.add().machine_spec.machine_type = "n1-standard-4"
    for number, length in enumerate(hours, 1):
        trial = job.trials.add(id=str(number), state=TrialPb.State.SUCCEEDED)
        trial.start_time.FromDatetime(created)
        trial.end_time.FromDatetime(created + dt.timedelta(hours=length))
    standin.jobs[job.name] = job


def test_the_period_is_days_back_or_a_date_and_anything_else_is_one_line():
    now = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert parse_since("30d", now) == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert parse_since("2026-03-01", now).date() == dt.date(2026, 3, 1)
    with pytest.raises(UserError, match=r"^--since 'last week' is neither a number of days \(30d\) nor a date"):
        parse_since("last week", now)


def test_a_cost_says_how_many_sweeps_it_leaves_out():
    assert spend_text(3.14159, 0, "USD") == "3.14 USD"
    assert spend_text(3.14159, 2, "USD") == "3.14 USD + 2 unpriced"
    assert spend_text(0.0, 1, "") == "1 unpriced"


def test_the_team_view_adds_the_run_folders_and_each_team_s_vertex_jobs(tmp_path, local_runs):
    runs = runs_with_a_vertex_run(local_runs, tmp_path)
    with VertexStandIn(tmp_path / "standin") as standin:
        finished_job(standin, 1, {"run_id": "bc-1", "team": "vision", "spec": "toy"}, NOW, [0.5, 0.25])
        finished_job(standin, 2, {"run_id": "ci-7", "team": "vision", "spec": "bc"}, NOW, [1.0])  # launched by CI
        finished_job(standin, 3, {"run_id": "nlp-1", "team": "nlp", "spec": "bc"}, NOW, [1.0])  # another team's
        finished_job(standin, 4, {"run_id": "old-1", "team": "vision", "spec": "bc"}, NOW - dt.timedelta(days=40),
                     [1.0])
        vertex = backend_for(standin)
        sweeps, notes = seen_sweeps(runs, NOW - dt.timedelta(days=30), [ACME],
                                    choose=lambda name: vertex if name == "vertex" else LocalBackend())
    assert notes == []
    table_price = hourly_price(VertexResources(machine_type="n1-standard-4"), load_prices())[0]
    found = {s.run_id: (s.backend, s.team, s.project, s.trials, s.cost) for s in sweeps}
    assert found == {"toy-1": ("local", "", "", 2, 0.0),
                     "bc-1": ("vertex", "vision", "acme-ml", 2, pytest.approx(0.75 * 2.0)),  # its recorded price
                     "ci-7": ("vertex", "vision", "acme-ml", 1, pytest.approx(table_price))}  # the table's
    rows = by_team(sweeps)
    assert [(r.team, r.project, r.sweeps, r.trials, r.unpriced, r.currency) for r in rows] == [
        ("vision", "acme-ml", 2, 3, 0, "USD"), (LOCAL, "", 1, 2, 0, "")]
    assert rows[0].cost == pytest.approx(1.5 + table_price)


def test_a_run_folder_naming_a_bad_place_or_backend_is_left_out_with_a_line(tmp_path, local_runs, monkeypatch):
    """A hand-edited run.json: a project id the API cannot take, a region Vertex AI does not train in, a backend
    not installed; each run is left out with its reason, and the others are still counted."""
    runs = runs_with_a_vertex_run(local_runs, tmp_path)
    edits = {"bad-project": {"project": "Acme ML/../x"}, "bad-region": {"region": "mars-1"},
             "bad-backend": {"backend": "gke", "project": None}}
    for run_id, edit in edits.items():
        shutil.copytree(runs / "bc-1", runs / run_id)
        meta = json.loads((runs / run_id / "run.json").read_text())
        (runs / run_id / "run.json").write_text(json.dumps(meta | {"run_id": run_id} | edit))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    sweeps, notes = seen_sweeps(runs, NOW - dt.timedelta(days=30), [], choose=backend)
    notes = [note for note in notes if note.startswith("run ")]  # not the line saying Vertex AI was not listed
    assert sorted(s.run_id for s in sweeps) == ["bc-1", "toy-1"]
    assert [note.split(":")[0] for note in notes] == [f"run {run_id} left out" for run_id in sorted(edits)]
    assert "'Acme ML/../x' is not a GCP project id" in notes[1] and "'mars-1' is not a Vertex AI" in notes[2]


def test_invoke_report_teams_without_credentials_counts_runs_alone_and_says_so(tmp_path, local_runs):
    runs_with_a_vertex_run(local_runs, tmp_path)
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "no-such-key.json")}
    done = invoke("report", "--teams", cwd=tmp_path, env=env)
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[0] == ("Vertex AI jobs not listed (runs/ only): no Google Cloud credentials found: run `gcloud auth "
                        "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key "
                        "file")
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    today = f"{dt.date.today():%Y-%m-%d}"
    assert rows == [["vision", "acme-ml", "1", "0", "1 unpriced", today, today],
                    [LOCAL, "-", "1", "2", "0.00", today, today]]
    assert lines[-1] == f"team view: {Path('runs') / 'teams' / 'teams.md'} (and teams.csv)"
    csv = (tmp_path / "runs" / "teams" / "teams.csv").read_text().splitlines()
    assert csv[0] == "team,project,sweeps,trials,cost,unpriced_sweeps,currency,first,last"
    assert csv[1].startswith("vision,acme-ml,1,0,0.0000,1,,") and csv[2].startswith(f"{LOCAL},,1,2,0.0000,0,,")
    markdown = (tmp_path / "runs" / "teams" / "teams.md").read_text()
    assert "| bc-1 | vertex | vision | acme-ml | toy |" in markdown and "Cloud Billing export" in markdown


@pytest.mark.parametrize("args, said", [
    (("--since", "30d"), "report: --since goes with --teams (the team view); leave it out to report runs"),
    (("--teams", "--latest"), "report: --teams reports every run of the period: leave out --run-id and --latest"),
    (("--teams", "--since", "soon"),
     "report: --since 'soon' is neither a number of days (30d) nor a date (2026-01-31): give one of them"),
])
def test_a_wrong_team_view_request_is_one_line(tmp_path, args, said):
    done = invoke("report", *args, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, said + "\n") and list(tmp_path.iterdir()) == [], done
