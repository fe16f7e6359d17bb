"""invoke tune on the reference trainer: warm forks, the plan, the summary."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.helpers import REPO, invoke, make_split

DEFAULT_SPEC = REPO / "jobs" / "specs" / "breast-cancer.yaml"


def small_spec(tmp_path: Path, **changes) -> Path:
    spec = yaml.safe_load(DEFAULT_SPEC.read_text())
    spec["trainer"]["args"] = ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=20",
                               "--log_every=0"]
    spec.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def tune(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return invoke("tune", *args, cwd=tmp_path)


def _metrics(run: Path) -> dict[str, dict]:
    return {p.parts[-3]: json.loads(p.read_text()) for p in sorted(run.glob("artifacts/*/model/metrics.json"))}


def test_forked_trials_match_fresh_processes(tmp_path):
    """The warm fork server and a fresh interpreter per trial train the same models."""
    from rich.console import Console

    from tests.support.sweeps import tune_local

    make_split(tmp_path / "data", rows=160)
    spec = small_spec(tmp_path, trials={"max": 3, "parallel": 2})
    results = {}
    for warm in (True, False):
        run_id = f"warm-{str(warm).lower()}"
        status = tune_local(str(spec), run_id=run_id, data_root=str(tmp_path / "data"), seed=4, warm=warm,
                            runs_dir=tmp_path / "runs", console=Console(quiet=True))
        assert status == 0
        results[warm] = _metrics(tmp_path / "runs" / run_id)
    assert len(results[True]) == 3
    for trial_id, metrics in results[True].items():
        other = results[False][trial_id]
        for key in ("final_val_accuracy", "final_val_loss", "stopped_epoch", "learning_rate", "hidden"):
            assert metrics[key] == other[key], (trial_id, key)


def test_tune_names_the_best_trial(tmp_path):
    make_split(tmp_path / "data", rows=160)
    done = tune(tmp_path, "--spec", str(small_spec(tmp_path)), "--data-root", str(tmp_path / "data"),
                "--trials", "4", "--parallel", "2", "--run-id", "named")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("trial ") and " started: " in line for line in lines) == 4
    best_line = next(line for line in lines if line.startswith("best trial: "))
    best_id = best_line.split()[2]
    metrics = _metrics(tmp_path / "runs" / "named")
    values = {tid: m["best_val_loss"] for tid, m in metrics.items()}
    assert values[best_id] == min(values.values()) and len(set(values.values())) == 4  # no ties
    # The value the trial was ranked by is the saved model's own: the same epoch, the same metric.
    ranked_by = float(best_line.split(" = ")[1].split()[0])
    assert ranked_by == pytest.approx(metrics[best_id]["final_val_loss"], rel=1e-5)
    assert metrics[best_id]["best_epoch"] <= metrics[best_id]["stopped_epoch"]
    assert any(line.startswith("artifacts:") and line.endswith(f"runs/named/artifacts/{best_id}") for line in lines)
    assert ("warning: parallel 2 is above a third of max 4: adaptive search learns less between trials; consider "
            "parallel 1 or less, or a larger max") in lines


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    done = tune(tmp_path, "--dry-run", "--data-root", "gs://bucket/data")
    assert done.returncode == 0, done.stderr
    assert "breast-cancer-mlp: adaptive search, minimize validation_loss" in done.stdout
    for pid in ("learning_rate", "patience", "min_delta", "hidden", "layers", "dropout", "batch_size"):
        assert pid in done.stdout
    assert "--train=gs://bucket/data/train_data.npz" in done.stdout
    assert not (tmp_path / "runs").exists()


def test_smoke_runs_one_trial(tmp_path):
    make_split(tmp_path / "data", rows=160)
    done = tune(tmp_path, "--spec", str(small_spec(tmp_path)), "--data-root", str(tmp_path / "data"),
                "--smoke", "--run-id", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(_metrics(tmp_path / "runs" / "smoke")) == ["1"]


def test_bad_spec_is_one_clear_error(tmp_path):
    spec = small_spec(tmp_path, trials={"max": 2, "parallel": 3})
    done = tune(tmp_path, "--spec", str(spec))
    assert done.returncode == 2
    assert f"tune: {spec}: trials.parallel" in done.stderr


def test_resuming_an_unknown_run_says_so(tmp_path):
    done = tune(tmp_path, "--resume", "nope")
    assert done.returncode == 2
    assert "not a run folder" in done.stderr


@pytest.mark.parametrize("stop_decided", [False, True])
def test_a_trial_that_ended_is_never_stopped_after_the_fact(tmp_path, stop_decided):
    """A trial whose process has ended is concluded from its reports: the pruner no longer gets a say
    (it once killed the finished trial, waited 10 s for it and called it STOPPED), and a stop decided after it
    ended is not made (it once left it ACTIVE, FAIL in Optuna)."""
    import optuna

    from jobs.local.loop import SweepLoop, study_records
    from jobs.run.folder import RunFolder, RunMeta
    from jobs.spec import load_spec

    make_split(tmp_path / "data", rows=160)
    spec = load_spec(small_spec(tmp_path, early_stopping="median", trials={"max": 1, "parallel": 1}))
    folder = RunFolder.create(tmp_path / "spec.yaml", RunMeta(run_id="ended", backend="local", spec="spec.yaml",
                              data_root=str(tmp_path / "data"), trials=1, parallel=1), tmp_path / "runs")
    sweep = SweepLoop(spec, folder, str(tmp_path / "data"), seed=1)
    sweep.study.pruner = optuna.pruners.ThresholdPruner(lower=2.0)  # accuracy is never >= 2: stop everything
    sweep._prepare()
    sweep._launch()
    [(number, run)] = sweep.active.items()
    while (code := run.process.poll()) is None:  # let it finish without reading its reports
        time.sleep(0.05)
    if stop_decided:
        sweep._observe(run)  # reads its reports as if it still ran: the pruner says stop, the process has ended
        assert run.stop is None
    sweep._conclude(number, code)
    sweep.launcher.close()
    [trial] = study_records(sweep.study)
    assert (code, trial.state, trial.reason) == (0, "SUCCEEDED", "")
    assert trial.objective is not None and trial.step == 20
    assert sweep.study.trials[0].state == optuna.trial.TrialState.COMPLETE
