"""The trainer on train_nn.py's Titanic split: at least that script's accuracy at its settings."""

from __future__ import annotations

import json

import pytest

from jobs.data.prepare import prepare_to
from tests.support.helpers import run_trainer

LESSON_ACCURACY = 0.783  # train_nn.py (which the trainer replaces) at learning rate 1e-4, patience 10, min_delta 1e-3


@pytest.fixture
def titanic_split(titanic_csv, tmp_path):
    prepare_to(str(tmp_path / "data"), str(titanic_csv), "Survived")
    return tmp_path / "data"


def _accuracy(data, tmp_path, name: str, *flags: str) -> float:
    done = run_trainer([f"--train={data}/train_data.npz", f"--val={data}/val_data.npz", "--log_every=0", *flags],
                       env={"AIP_MODEL_DIR": str(tmp_path / name), "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hp")})
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / name / "metrics.json").read_text())["final_val_accuracy"]


def test_lesson_settings_reach_the_lessons_accuracy(titanic_split, tmp_path):
    accuracy = _accuracy(titanic_split, tmp_path, "lesson", "--learning_rate=1e-4", "--patience=10",
                         "--min_delta=1e-3")
    assert accuracy >= LESSON_ACCURACY


def test_a_tuned_setting_reaches_080(titanic_split, tmp_path):
    # Found by a sweep of jobs/specs/titanic.yaml: mini-batches and a larger step.
    assert _accuracy(titanic_split, tmp_path, "tuned", "--learning_rate=1e-2", "--batch_size=64") >= 0.80
