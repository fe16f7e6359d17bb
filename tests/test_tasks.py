"""The invoke tasks as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def invoke(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_every_task_answers_h_and_help_with_help_and_runs_nothing(tmp_path):
    listing = invoke("--list")
    assert listing.returncode == 0, listing.stderr
    tasks = [line.split()[0] for line in listing.stdout.splitlines() if re.match(r"  \S", line)]
    assert {"data", "train", "tune", "report", "status", "cancel", "onboard", "infra.up"} <= set(tasks)
    for name in tasks:
        docstring = invoke("--help", name).stdout.split("Docstring:\n", 1)[1].split("\n")[0].strip()
        assert docstring and docstring != "none", name
        for flag in ("-h", "--help"):
            shown = invoke(name, flag, cwd=tmp_path)
            assert shown.returncode == 0, (name, flag, shown.stderr)
            assert shown.stdout.startswith(f"Usage: inv[oke] [--core-opts] {name} ") and docstring in shown.stdout
    assert list(tmp_path.iterdir()) == []  # no run, data or stack file was written: nothing ran


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


def test_make_test_needs_no_root_where_chromium_is_missing():
    """As a non-root user without chromium, `make browser` (run by `make test`) skips with a note, and the
    browser test is skipped with its reason; as root with apt-get (CI), it installs chromium."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    if os.getuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root to run make as another user")
    with tempfile.TemporaryDirectory() as name:  # a folder the other user can read (pytest's are private)
        tools = Path(name)
        tools.chmod(0o755)
        for tool in ("sh", "id", "make"):
            (tools / tool).symlink_to(shutil.which(tool))
        done = subprocess.run([shutil.which("runuser"), "-u", "nobody", "--", str(tools / "make"), "-C", str(REPO),
                               "browser"], capture_output=True, text=True, env={"PATH": str(tools)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "no chromium and no root apt-get: the report's browser test will be skipped" in done.stdout
