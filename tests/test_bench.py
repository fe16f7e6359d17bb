"""The benchmarks still run against the code they measure (smallest sizes; no timing is checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.helpers import REPO, TITANIC_TRAIN

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
    (["bench.peers", "--rounds", "1", "--trials", "2"], "ratio invoke/TPE"),
])
def test_a_benchmark_runs_to_its_figures(args, last_words):
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert last_words in done.stdout.strip().splitlines()[-1], done.stdout


def _search(*args: str, python: tuple[str, ...] = ("-m", "bench.search")) -> list[str]:
    done = subprocess.run([sys.executable, *python, "--seeds", "1", "--trials", "3", "--problems", "branin", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()


def test_search_compares_with_vizier_where_its_extra_is_installed():
    pytest.importorskip("bench.vizier", reason="no vizier extra: .venv/bin/pip install -e '.[vizier]'")
    header, row = _search("--samplers", "vizier")[-2:]
    assert header.split()[-1] == "s" and "vizier best" in header, header
    assert row.split()[0] == "branin" and float(row.split()[-1]) > 0, row  # Vizier's seconds per suggestion


def test_search_leaves_vizier_out_saying_how_to_install_it():
    # the import of vizier fails in the benchmark's process, as where the extra is not installed
    lines = _search("--samplers", "vizier",
                    python=("-c", "import runpy, sys; sys.modules['vizier'] = None; "
                                  "runpy.run_module('bench.search', run_name='__main__')"))
    assert any(line.startswith("vizier: left out") and "pip install -e '.[vizier]'" in line for line in lines), lines
    assert "vizier" not in lines[-2] and lines[-1].split()[0] == "branin", lines
