"""The benchmarks still run against the code they measure (smallest sizes; no timing is checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, TITANIC_TRAIN

pytestmark = pytest.mark.slow
# bench.search leaves its titanic problem out, saying so, when ../shared/data has no Titanic CSV (a clone of its own)
SEARCH_LAST = "titanic" if TITANIC_TRAIN.exists() else "conditional"


@pytest.mark.parametrize(("args", "last_words"), [
    (["bench.sweep", "--trials", "2", "--repeat", "1", "--no-fresh"], "median ratio"),
    (["bench.report", "--trials", "10", "--repeat", "1"], "ratio seed / collector"),
    (["bench.trainer", "--repeat", "1", "--epochs", "20"], "ratio fresh / in-process"),
    (["bench.search", "--seeds", "1", "--trials", "3", "--samplers", "gp", "--problems", "conditional", "titanic"],
     SEARCH_LAST),
    (["bench.stopping", "--seeds", "1", "--trials", "2"], "decay_curve"),
])
def test_a_benchmark_runs_to_its_figures(args, last_words):
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert last_words in done.stdout.strip().splitlines()[-1], done.stdout
