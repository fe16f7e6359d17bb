"""The trainer image, checked as far as this machine allows (no Docker engine runs here):
its requirements install into a clean virtual environment and its entrypoint runs from it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.helpers import REPO, pip_install

DOCKERFILE = REPO / "trainer" / "Dockerfile"


def test_dockerfile_runs_the_trainer_and_takes_a_cuda_switch():
    text = DOCKERFILE.read_text()
    assert re.search(r'^ENTRYPOINT \["python", "-m", "trainer"\]$', text, re.M)
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu$", text, re.M)
    assert re.search(r"^ARG BASE_IMAGE=", text, re.M)
    assert "COPY trainer/requirements.txt" in text and "COPY trainer/ /app/trainer/" in text


@pytest.mark.slow
def test_requirements_install_clean_and_entrypoint_runs(tmp_path, small_data):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # pip_install needs none
    python = venv / "bin" / "python"
    install = pip_install(python, "-r", str(REPO / "trainer" / "requirements.txt"), capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    app = tmp_path / "app"  # what the image's COPY lays out: the trainer package alone
    shutil.copytree(REPO / "trainer", app / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    train, val = small_data
    env = {"PATH": os.environ["PATH"], "AIP_MODEL_DIR": str(tmp_path / "model"),
           "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hp" / "metrics")}
    done = subprocess.run([str(python), "-m", "trainer", f"--train={train}", f"--val={val}", "--epochs=3"],
                          cwd=app, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["stopped_epoch"] == 3
    assert (tmp_path / "hp" / "metrics").read_text().count("validation_accuracy") == 3
