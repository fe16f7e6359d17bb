"""The benchmarks still run against the code they measure (smallest sizes; no timing is checked)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.search import vizier_version
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


# the import of vizier fails in the benchmark's process, as where the extra is not installed
WITHOUT_VIZIER = ("-c", "import runpy, sys; sys.modules['vizier'] = None; "
                        "runpy.run_module('bench.search', run_name='__main__')")


@pytest.fixture(autouse=True)
def vizier_results(tmp_path, monkeypatch):
    """Vizier's stored searches in a file of the test's own (never the repository's)."""
    path = tmp_path / "vizier.json"
    monkeypatch.setenv("BENCH_VIZIER_RESULTS", str(path))
    return path


def _search(*args: str, python: tuple[str, ...] = ("-m", "bench.search")) -> list[str]:
    done = subprocess.run([sys.executable, *python, "--seeds", "1", "--trials", "3", "--problems", "branin", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()


def test_search_compares_with_vizier_where_its_extra_is_installed(vizier_results):
    pytest.importorskip("bench.vizier", reason="no vizier extra: .venv/bin/pip install -e '.[vizier]'")
    lines = _search("--samplers", "vizier")
    assert "vizier: branin: 0 searches stored" in "\n".join(lines) and "1 to run" in lines[-3], lines
    header, row = lines[-2:]
    assert header.split()[-1] == "s" and "vizier best" in header, header
    assert row.split()[0] == "branin" and float(row.split()[-1]) > 0, row  # Vizier's seconds per suggestion
    (stored,) = json.loads(vizier_results.read_text())["searches"]  # kept as soon as the search ended
    assert (stored["problem"], stored["seed"], stored["trials"], stored["parallel"]) == ("branin", 0, 3, 2)
    assert len(stored["values"]) == len(stored["suggest_s"]) == 3 and stored["vizier"]
    assert float(row.split()[5]) == pytest.approx(min(stored["values"]), rel=1e-3), row


def test_search_reads_vizier_searches_stored_without_the_extra(vizier_results):
    vizier_results.write_text(json.dumps({"searches": [
        {"problem": "branin", "seed": 0, "trials": 3, "parallel": 2, "vizier": vizier_version() or "0.1.24",
         "values": [9.5, 2.25, 4.0], "suggest_s": [0.5, 0.5, 3.0]}]}))
    lines = _search("--samplers", "vizier", python=WITHOUT_VIZIER)
    assert any(line.startswith("vizier: branin: 1 searches stored in ") and line.endswith(", 0 to run")
               for line in lines), lines
    row = lines[-1].split()
    assert (row[0], row[5], row[-1]) == ("branin", "2.25", "0.500"), row  # its best and median suggestion seconds


def test_search_leaves_vizier_out_saying_how_to_install_it():
    lines = _search("--samplers", "vizier", python=WITHOUT_VIZIER)
    assert any(line.startswith("vizier: left out") and "pip install -e '.[vizier]'" in line for line in lines), lines
    assert "vizier" not in lines[-2] and lines[-1].split()[0] == "branin", lines
