"""`report` over local run folders: a real small sweep of the reference trainer, --latest, several
runs compared, bookkeeping trials left out, a sweep still running, the usage errors, and
parameter importance without loading scikit-learn."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

from jobs.local.loop import load_run_study, study_records
from jobs.report import compare, report
from jobs.run.folder import RunFolder, RunMeta
from jobs.trial.record import best_trial
from tests.jobs.local.test_loop import toy_spec
from tests.support.helpers import INVOKE, REPO, invoke, make_split
from tests.support.sweeps import tune_local

SPEC = {
    "name": "small",
    "metric": {"id": "validation_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"type": "double", "min": 1e-3, "max": 3e-1, "scale": "log"},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "momentum": {"type": "double", "min": 0.5, "max": 0.95, "when": {"optimizer": ["sgd"]}},
        "dropout": {"type": "double", "min": 0.0, "max": 1.4},  # 1 and above: the trainer refuses, the trial fails
    },
    "algorithm": "random",
    "trials": {"max": 10, "parallel": 2},
    "trainer": {"command": [sys.executable, "-m", "trainer"],
                "args": ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=25",
                         "--patience=50", "--log_every=0"]},
}


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def printed(console: Console) -> str:
    return console.file.getvalue()


def trials_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"trial_id": str}, keep_default_na=False, na_values=[""])


def same_value(cell, value) -> bool:
    """A trials.csv cell read back by pandas against the metrics.json value."""
    if value is None:
        return pd.isna(cell)
    return cell == pytest.approx(value) if isinstance(value, float) else cell == value


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """One finished local sweep in <tmp>/runs/r, and its trials as the study records them."""
    root = tmp_path_factory.mktemp("sweep")
    make_split(root / "data")
    spec = root / "small.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    status = tune_local(str(spec), run_id="r", runs_dir=root / "runs", data_root=str(root / "data"), seed=4,
                        console=quiet())
    assert status == 0
    folder = RunFolder.open("r", root / "runs")
    trials = study_records(load_run_study(folder, "small"))
    states = {t.state for t in trials}
    assert {"SUCCEEDED", "FAILED"} <= states, states  # the seed gives both, so every path below is exercised
    return root / "runs", trials


def test_report_of_a_local_run_holds_what_the_trials_left(sweep):
    runs, trials = sweep
    console = quiet()
    assert report(["r"], latest=False, out=None, runs_dir=runs, console=console) == 0

    run = runs / "r"
    frame = trials_csv(run / "trials.csv")
    metric_keys = [k for k in json.loads(next(run.glob("artifacts/*/model/metrics.json")).read_text())
                   if k not in SPEC["parameters"]]
    assert list(frame.columns) == ["trial_id", "state", "objective", *SPEC["parameters"], *metric_keys,
                                   "duration_s", "artifact_dir", "error"]
    assert frame["trial_id"].tolist() == sorted((t.trial_id for t in trials), key=int)
    rows = frame.set_index("trial_id")
    for t in trials:
        row = rows.loc[t.trial_id]
        assert row["state"] == t.state
        assert row["objective"] == pytest.approx(t.objective) if t.objective is not None else pd.isna(row["objective"])
        assert row["artifact_dir"] == str((run / "artifacts" / t.trial_id).resolve())
        metrics_file = run / "artifacts" / t.trial_id / "model" / "metrics.json"
        if t.state == "SUCCEEDED":
            metrics = json.loads(metrics_file.read_text())
            assert row["error"] == "" or pd.isna(row["error"])
            for key in metric_keys:
                assert same_value(row[key], metrics[key]), (t.trial_id, key)
            assert row["learning_rate"] == pytest.approx(t.parameters["learning_rate"])
        elif t.state == "FAILED":
            assert row["error"] == ("exit code 2: trainer: error: argument --dropout: must be in [0, 1), got "
                                    f"{t.parameters['dropout']!r}; metrics.json missing") and row["dropout"] >= 1
    best = best_trial(trials, "maximize")
    assert f"best trial: {best.trial_id} " in printed(console)
    heading = f"## Best trial: {best.trial_id}, validation_accuracy = {best.objective:.6g}"
    assert heading in (run / "report.md").read_text()
    assert {p.name for p in (run / "plots").iterdir()} == {
        "importance.png", "objective.png", "parameters.png", "parallel.png", "curves.png"}  # no early stopping


def _copy_run(runs: Path, source: str, target: str, created: str) -> RunFolder:
    shutil.copytree(runs / source, runs / target, ignore=shutil.ignore_patterns("report.*", "trials.csv", "plots"))
    meta = json.loads((runs / target / "run.json").read_text())
    (runs / target / "run.json").write_text(json.dumps({**meta, "run_id": target, "created": created}))
    return RunFolder.open(target, runs)


def test_latest_leaves_out_bookkeeping_trials_and_several_runs_compare(sweep):
    runs, trials = sweep
    newer = _copy_run(runs, "r", "r2", "2999-01-01T00:00:00")
    rerun = next(t for t in trials if t.state == "SUCCEEDED")
    study = load_run_study(newer, "small")
    study.set_user_attr("rerun", [int(rerun.trial_id) - 1])  # as a resumed run marks a trial it re-ran

    assert report([], latest=True, out=None, runs_dir=runs, console=quiet()) == 0
    frame = trials_csv(runs / "r2" / "trials.csv")
    assert rerun.trial_id not in set(frame["trial_id"]) and len(frame) == len(trials) - 1

    console = quiet()
    assert report(["r", "r2", "r"], latest=False, out=None, runs_dir=runs, console=console) == 0
    out = runs / "compare-r-vs-r2"
    assert {"report.html", "report.md", "best_trials.csv", "trials-r.csv", "trials-r2.csv",
            "plots"} <= {p.name for p in out.iterdir()}
    best = pd.read_csv(out / "best_trials.csv", dtype={"trial_id": str})
    assert best["run_id"].tolist() == ["r", "r2"]
    assert best.loc[0, "trial_id"] == best_trial(trials, "maximize").trial_id
    assert (out / "plots" / "best_so_far.png").stat().st_size > 1000
    assert "best trials side by side" in printed(console)
    assert f"best: r, trial {best_trial(trials, 'maximize').trial_id}, validation_accuracy" in printed(console)


def test_runs_whose_joined_ids_pass_a_file_name_compare_into_a_short_folder(sweep):
    runs, _ = sweep
    ids = [_copy_run(runs, "r", f"{n}{'x' * 62}", f"2000-01-0{n}T00:00:00").run_id for n in range(1, 5)]
    assert len("-vs-".join(ids).encode()) > 255
    console = quiet()
    assert report(ids, latest=False, out=None, runs_dir=runs, console=console) == 0
    (out,) = runs.glob("compare-1x*")
    assert out.name.startswith(f"compare-{ids[0]}-and-3-more-") and len(out.name) <= compare.NAME_LIMIT
    assert pd.read_csv(out / "best_trials.csv")["run_id"].tolist() == ids
    assert compare.folder_name([ids[0], *ids[:0:-1]]) != out.name  # the same first run, others in another order
    assert compare.folder_name(["a", "b"]) == "compare-a-vs-b"


def test_usage_errors_name_the_problem(sweep, tmp_path):
    runs, _ = sweep
    for args, message in ((([], False), "name a run id or use --latest; newest runs in"),
                          ((["nope"], False), "not a run folder"),
                          ((["r"], True), "not both")):
        console = quiet()
        assert report(args[0], latest=args[1], out=None, runs_dir=runs, console=console) == 2
        assert message in printed(console)
    console = quiet()
    assert report([], latest=True, out=None, runs_dir=tmp_path, console=console) == 2
    assert "no runs in" in printed(console)


def test_a_running_sweep_gives_a_partial_report(tmp_path):
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 8, "parallel": 2}, args=["--step_seconds=0.25"])
    log = tmp_path / "tune.log"
    with open(log, "w") as output:
        orchestrator = subprocess.Popen([*INVOKE, "tune", "--spec", str(spec), "--data-root", str(tmp_path), "--run-id",
                                         "live", "--seed", "1"],
                                        cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                study = load_run_study(RunFolder(tmp_path / "runs" / "live"), "toy")
                states = [t.state for t in study_records(study)]
            except Exception:  # not created yet
                states = []
            if states.count("SUCCEEDED") >= 2 and "ACTIVE" in states:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the sweep never had 2 trials done and 1 running; invoke tune said:\n{log.read_text()}")
        console = quiet()
        assert report(["live"], latest=False, out=str(tmp_path / "out"), runs_dir=tmp_path / "runs",
                      console=console) == 0
    finally:
        os.killpg(orchestrator.pid, signal.SIGKILL)
        orchestrator.wait()
    frame = trials_csv(tmp_path / "out" / "trials.csv")
    running = frame[frame["state"] == "ACTIVE"]
    assert len(running) >= 1 and (frame["state"] == "SUCCEEDED").sum() >= 2
    assert running["error"].isna().all()  # not fetched, not an error
    html = (tmp_path / "out" / "report.html").read_text()
    assert "the sweep is still running" in html and "running</span>" in html
    assert "still running" in printed(console)


def test_a_run_without_trials_yet_says_so(tmp_path):
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": 0, "max": 1}})
    RunFolder.create(spec, RunMeta(run_id="fresh", backend="local", spec=str(spec), data_root="data", trials=1,
                                   parallel=1), tmp_path / "runs")
    console = quiet()
    assert report(["fresh"], latest=False, out=None, runs_dir=tmp_path / "runs", console=console) == 0
    assert "run fresh has no trials yet" in console.file.getvalue()
    assert not (tmp_path / "runs" / "fresh" / "report.html").exists()


def test_parameter_importance_leaves_scikit_learn_unloaded_and_importable():
    check = """
import sys
from jobs.report.importance import _optuna_importance
_optuna_importance()
print("sklearn" in sys.modules)
import sklearn.ensemble
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "ok"]


def test_an_out_path_that_cannot_be_a_folder_is_one_line(sweep, tmp_path):
    runs, _ = sweep
    (tmp_path / "a-file").write_text("")
    for out, why in ((tmp_path / ("x" * 300), "File name too long"),
                     (tmp_path / "a-file" / "report", "Not a directory")):
        done = invoke("report", "--run-id", "r", "--out", str(out), cwd=runs.parent)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("report: cannot use ") and f": {why}: pick another path (--out)" in done.stderr
