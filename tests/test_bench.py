"""The benchmarks still run against the code they measure (smallest sizes; no timing is checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("args", [
    ["bench.sweep", "overhead", "--trials", "2", "--repeat", "1", "--no-fresh"],
    ["bench.report", "--trials", "10", "--repeat", "1"],
    ["bench.trainer", "--repeat", "1"],
])
def test_a_benchmark_runs_to_its_ratio(args, tmp_path):
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio" in done.stdout, done.stdout
