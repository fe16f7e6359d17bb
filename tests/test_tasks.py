"""The invoke tasks as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.conftest import REPO


def invoke(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_every_task_has_help():
    listing = invoke("--list")
    assert listing.returncode == 0, listing.stderr
    tasks = [line.split()[0] for line in listing.stdout.splitlines() if re.match(r"  \S", line)]
    assert {"data", "train"} <= set(tasks)
    for name in tasks:
        shown = invoke("--help", name)
        assert shown.returncode == 0 and "Docstring:" in shown.stdout, name


def test_data_then_train(tmp_path):
    prepared = invoke("data", "--out", str(tmp_path / "d"))
    assert prepared.returncode == 0, prepared.stderr
    assert "features (30)" in prepared.stdout and "455 train, 114 validation" in prepared.stdout
    trained = invoke("train", "--data-root", str(tmp_path / "d"), "--out", str(tmp_path / "m"),
                     "--args=--epochs=4 --hidden=8", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["stopped_epoch"] == 4


def test_bad_csv_is_one_clear_line(tmp_path):
    done = invoke("data", "--csv", str(tmp_path / "missing.csv"), "--target", "y")
    assert done.returncode == 2
    assert done.stderr.strip() == f"data: {tmp_path / 'missing.csv'}: no such file"
