"""The trainer end to end, as a subprocess the way a trial runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.helpers import make_split, run_trainer

LESSON_KEYS = {"final_val_accuracy", "final_val_loss", "best_val_loss", "best_epoch", "stopped_epoch",
               "patience", "min_delta", "learning_rate"}


def _train(tmp_path: Path, train: Path, val: Path, *extra: str, trial: str = "7"):
    model_dir = tmp_path / "model"
    metric_file = tmp_path / "hypertune" / "metrics.jsonl"
    done = run_trainer([f"--train={train}", f"--val={val}", *extra],
                       env={"AIP_MODEL_DIR": str(model_dir), "CLOUD_ML_HP_METRIC_FILE": str(metric_file),
                            "CLOUD_ML_TRIAL_ID": trial})
    return done, model_dir, metric_file


def test_run_writes_artifacts_and_reports_every_epoch(tmp_path, small_data):
    done, model_dir, metric_file = _train(tmp_path, *small_data, "--epochs=30", "--learning_rate=0.01",
                                          "--patience=100", "--hidden=16")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics.keys() >= LESSON_KEYS
    assert metrics["stopped_epoch"] == 30 and metrics["early_stopped"] is False
    assert metrics["hidden"] == 16 and metrics["learning_rate"] == 0.01 and metrics["optimizer"] == "adam"
    assert (metrics["train_rows"], metrics["val_rows"], metrics["n_features"]) == (160, 40, 5)
    assert metrics["device"] == "cpu"
    assert 0.75 <= metrics["final_val_accuracy"] <= 1.0

    with open(model_dir / "eval_history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in history] == list(range(1, 31))
    assert set(history[0]) == {"epoch", "train_loss", "val_loss", "val_accuracy"}

    reports = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert len(reports) == 60  # two metrics per epoch
    assert {r["trial"] for r in reports} == {"7"}
    for epoch in range(1, 31):
        at_step = [r for r in reports if r["global_step"] == str(epoch)]
        assert {k for r in at_step for k in r} >= {"validation_accuracy", "validation_loss", "timestamp"}
        row = history[epoch - 1]
        acc = next(float(r["validation_accuracy"]) for r in at_step if "validation_accuracy" in r)
        assert acc == pytest.approx(float(row["val_accuracy"]), abs=1e-5)

    lines = done.stdout.splitlines()
    assert f"validation_accuracy: {metrics['final_val_accuracy']:.6f}" in lines
    assert f"validation_loss: {metrics['final_val_loss']:.6f}" in lines
    import torch

    from trainer.model import load_model
    model = load_model(torch.load(model_dir / "model.pt"))
    assert model[0].in_features == 5 and model[0].out_features == 16


def test_early_stop_and_restore_best(tmp_path):
    # Noisy labels and a large step: validation loss bottoms out early, then rises.
    train, val = make_split(tmp_path / "d", rows=120, features=8, noise=3.0, seed=3)
    done, model_dir, _ = _train(tmp_path, train, val, "--epochs=2000", "--learning_rate=0.05",
                                "--patience=5", "--min_delta=0", "--hidden=128")
    assert done.returncode == 0, done.stderr
    m = json.loads((model_dir / "metrics.json").read_text())
    assert m["early_stopped"] is True
    assert m["stopped_epoch"] == m["best_epoch"] + 5 < 2000
    with open(model_dir / "eval_history.csv") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) == m["stopped_epoch"]
    best = min(history, key=lambda r: float(r["val_loss"]))
    assert int(best["epoch"]) == m["best_epoch"]
    # Restored weights give back the best epoch's validation loss, not the last one's.
    assert m["final_val_loss"] == pytest.approx(m["best_val_loss"], rel=1e-5)
    assert m["final_val_loss"] < float(history[-1]["val_loss"])
    assert "early stop at epoch" in done.stdout


def test_no_restore_keeps_last_weights(tmp_path):
    train, val = make_split(tmp_path / "d", rows=120, features=8, noise=3.0, seed=3)
    done, model_dir, _ = _train(tmp_path, train, val, "--epochs=2000", "--learning_rate=0.05",
                                "--patience=5", "--min_delta=0", "--hidden=128", "--restore_best=false")
    assert done.returncode == 0, done.stderr
    m = json.loads((model_dir / "metrics.json").read_text())
    with open(model_dir / "eval_history.csv") as handle:
        last = list(csv.DictReader(handle))[-1]
    assert m["final_val_loss"] == pytest.approx(float(last["val_loss"]), rel=1e-4)
    assert m["final_val_loss"] > m["best_val_loss"]


def test_same_seed_same_result_other_seed_differs(tmp_path, small_data):
    args = ("--epochs=25", "--learning_rate=0.01", "--batch_size=32", "--dropout=0.2")
    runs = []
    for i, seed in enumerate((5, 5, 6)):
        done, model_dir, _ = _train(tmp_path / str(i), *small_data, *args, f"--seed={seed}")
        assert done.returncode == 0, done.stderr
        runs.append((model_dir / "eval_history.csv").read_text())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_discrete_values_arrive_as_floats(tmp_path, small_data):
    done, model_dir, _ = _train(tmp_path, *small_data, "--epochs=3.0", "--hidden=32.0", "--layers=3.0",
                                "--batch_size=64.0", "--patience=4.0")
    assert done.returncode == 0, done.stderr
    m = json.loads((model_dir / "metrics.json").read_text())
    assert (m["epochs"], m["hidden"], m["layers"], m["batch_size"], m["patience"]) == (3, 32, 3, 64, 4)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_other_optimizers_learn(tmp_path, small_data, optimizer):
    done, model_dir, _ = _train(tmp_path, *small_data, f"--optimizer={optimizer}", "--learning_rate=0.05",
                                "--epochs=60", "--weight_decay=1e-4")
    assert done.returncode == 0, done.stderr
    assert json.loads((model_dir / "metrics.json").read_text())["final_val_accuracy"] >= 0.75


def test_divergence_stops_without_reporting_non_finite(tmp_path, small_data):
    """A step this large gives a few finite epochs, then an infinite loss: those epochs are reported, the
    non-finite one is not, and training stops there."""
    done, model_dir, metric_file = _train(tmp_path, *small_data, "--optimizer=sgd", "--learning_rate=3e4",
                                          "--momentum=0", "--epochs=50", "--patience=50")
    assert done.returncode == 0, done.stderr
    m = json.loads((model_dir / "metrics.json").read_text())
    assert m["diverged"] is True and 2 <= m["stopped_epoch"] < 50, m
    reports = [json.loads(line) for line in metric_file.read_text().splitlines()]
    assert sorted(int(r["global_step"]) for r in reports) == sorted(list(range(1, m["stopped_epoch"])) * 2)
    values = [float(r[key]) for r in reports for key in ("validation_accuracy", "validation_loss") if key in r]
    assert len(values) == len(reports) and all(np.isfinite(values))
    with open(model_dir / "eval_history.csv") as handle:
        assert not np.isfinite(float(list(csv.DictReader(handle))[-1]["val_loss"]))  # the epoch it stopped at
    assert f"validation loss became non-finite at epoch {m['stopped_epoch']}" in done.stdout


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _bad_inputs(tmp: Path):
    good_train, good_val = make_split(tmp / "good")
    X = np.zeros((10, 3), np.float32)
    y = np.array([0, 1] * 5, np.float32)
    nan_X = X.copy()
    nan_X[2, 1] = np.nan
    (tmp / "garbage.npz").write_bytes(b"not a zip")
    return {
        "missing file": ([f"--train={tmp}/nope.npz", f"--val={good_val}"], "nope.npz: no such file"),
        "wrong keys": ([f"--train={_npz(tmp / 'k.npz', X=X, y=y)}", f"--val={good_val}"],
                       "missing array(s) X_train, y_train; found X, y"),
        "not npz": ([f"--train={tmp / 'garbage.npz'}", f"--val={good_val}"], "not a readable .npz file"),
        "row mismatch": ([f"--train={_npz(tmp / 'r.npz', X_train=X, y_train=y[:7])}", f"--val={good_val}"],
                         "X_train has 10 rows but y_train has 7"),
        "feature mismatch": ([f"--train={good_train}", f"--val={_npz(tmp / 'f.npz', X_val=X, y_val=y)}"],
                             "X_val has 3 features but"),
        "1-D X": ([f"--train={_npz(tmp / 'd.npz', X_train=y, y_train=y)}", f"--val={good_val}"],
                  "X_train must be 2-D"),
        "NaN": ([f"--train={_npz(tmp / 'n.npz', X_train=nan_X, y_train=y)}", f"--val={good_val}"],
                "X_train has 1 non-finite value(s)"),
        "labels": ([f"--train={_npz(tmp / 'l.npz', X_train=X, y_train=y * 3)}", f"--val={good_val}"],
                   "y_train must hold binary labels 0/1"),
        "negative lr": ([f"--train={good_train}", f"--val={good_val}", "--learning_rate=-1"],
                        "argument --learning_rate: must be in (0, inf), got -1"),
        "fractional int": ([f"--train={good_train}", f"--val={good_val}", "--hidden=64.5"],
                           "argument --hidden: expected an integer, got '64.5'"),
        "zero patience": ([f"--train={good_train}", f"--val={good_val}", "--patience=0"],
                          "argument --patience: must be >= 1, got 0"),
        "dropout 1": ([f"--train={good_train}", f"--val={good_val}", "--dropout=1"],
                      "argument --dropout: must be in [0, 1), got 1"),
        "bad bool": ([f"--train={good_train}", f"--val={good_val}", "--restore_best=maybe"],
                     "argument --restore_best: expected true or false, got 'maybe'"),
        "bad optimizer": ([f"--train={good_train}", f"--val={good_val}", "--optimizer=lbfgs"],
                          "argument --optimizer: invalid choice: 'lbfgs'"),
        "nan lr": ([f"--train={good_train}", f"--val={good_val}", "--learning_rate=nan"],
                   "argument --learning_rate: must be in (0, inf), got nan"),
        "unknown flag": ([f"--train={good_train}", f"--val={good_val}", "--colour=red"],
                         "unrecognized arguments: --colour=red"),
        "no val": ([f"--train={good_train}"], "the following arguments are required: --val"),
    }


def test_bad_inputs_get_one_line_and_exit_2(tmp_path):
    for name, (args, message) in _bad_inputs(tmp_path).items():
        done = run_trainer(args, env={"AIP_MODEL_DIR": str(tmp_path / "out" / name)})
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (name, done.stderr)
        assert lines[0].startswith("trainer: error: ") and message in lines[0], (name, lines[0])
        assert not (tmp_path / "out" / name).exists(), name


def test_help_lists_every_knob_with_its_real_default():
    """Every hyperparameter of TrainConfig is a flag whose help ends with the default the trainer uses; the
    other flags (data, runtime) are listed too, each with help."""
    import dataclasses
    import re

    from trainer.config import TrainConfig

    done = run_trainer(["--help"], env={"COLUMNS": "400"})  # no wrapping
    assert done.returncode == 0
    shown: dict[str, str] = {}
    flag = None
    for line in done.stdout.split("\noptions:\n", 1)[1].splitlines():
        if match := re.match(r"^  (--\w+)(?: \S+)?(?:\s{2,}(.*))?$", line):
            flag = match[1]
            shown[flag] = match[2] or ""
        elif line.startswith(" " * 10):
            shown[flag] = (shown[flag] + " " + line.strip()).strip()
        else:
            flag = None
    defaults = TrainConfig()
    knobs = {f"--{field.name}": getattr(defaults, field.name) for field in dataclasses.fields(TrainConfig)}
    assert set(shown) == {"--train", "--val", "--device", "--threads", "--log_every", *knobs}
    for knob, default in knobs.items():
        assert shown[knob].endswith(f"({default})"), (knob, shown[knob])
    assert all(shown.values()), shown


def test_sigterm_ends_training_after_the_epoch_and_keeps_its_artifacts(tmp_path, small_data):
    """What a trial that Vertex AI stops early receives: the trainer stops, writes what it has, exits 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    train, val = small_data
    model_dir, metric_file = tmp_path / "model", tmp_path / "metrics.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "trainer", f"--train={train}", f"--val={val}",
                                "--epochs=100000", "--patience=100000", "--hidden=8"],
                               env={**os.environ, "AIP_MODEL_DIR": str(model_dir),
                                    "CLOUD_ML_HP_METRIC_FILE": str(metric_file)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (metric_file.exists() and metric_file.read_text().count("\n") >= 3):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["stopped_by"] == "SIGTERM" and 3 <= metrics["stopped_epoch"] < 100000
    history = (model_dir / "eval_history.csv").read_text().splitlines()
    assert len(history) == metrics["stopped_epoch"] + 1 and (model_dir / "model.pt").stat().st_size > 0
    assert f"stopped by SIGTERM after epoch {metrics['stopped_epoch']}" in out


def test_a_gpu_trial_without_cuda_refuses_to_train_on_the_cpu(tmp_path, small_data):
    """The Vertex AI backend tells a GPU trial its accelerators; with a CPU build of torch (this machine, or a
    CPU image) the trainer stops at once instead of billing idle GPUs."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a GPU trial trains on it")
    done = run_trainer([f"--train={small_data[0]}", f"--val={small_data[1]}", "--epochs=2"],
                       env={"AIP_MODEL_DIR": str(tmp_path / "model"), "SWEEPS_ACCELERATOR": "1xNVIDIA_TESLA_T4"})
    assert done.returncode == 2
    assert "1xNVIDIA_TESLA_T4 is attached to this trial (SWEEPS_ACCELERATOR), but torch" in done.stderr
    assert "sees no CUDA device" in done.stderr and not (tmp_path / "model").exists()
    cpu = run_trainer([f"--train={small_data[0]}", f"--val={small_data[1]}", "--epochs=2", "--device=cpu"],
                      env={"AIP_MODEL_DIR": str(tmp_path / "model"), "SWEEPS_ACCELERATOR": "1xNVIDIA_TESLA_T4"})
    assert cpu.returncode == 0, cpu.stderr


def test_metrics_json_has_the_final_models_auc_and_f1_as_scikit_learn_computes_them(tmp_path, small_data):
    import torch
    from sklearn.metrics import f1_score, roc_auc_score

    from trainer.model import load_model

    done, model_dir, _ = _train(tmp_path, *small_data, "--epochs=40", "--learning_rate=0.01", "--hidden=8")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((model_dir / "metrics.json").read_text())
    val = np.load(small_data[1])
    model = load_model(torch.load(model_dir / "model.pt"))
    model.eval()
    with torch.inference_mode():
        scores = model(torch.from_numpy(val["X_val"])).squeeze(1).numpy()
    assert metrics["final_val_auc"] == pytest.approx(roc_auc_score(val["y_val"], scores))
    assert metrics["final_val_f1"] == pytest.approx(f1_score(val["y_val"], scores > 0))
    assert 0.5 < metrics["final_val_auc"] <= 1.0
