"""The sweep tasks (tasks/sweeps.py) as a user runs them."""

from __future__ import annotations

import json
import os
import sys

from tests.support import sandbox_backend
from tests.support.helpers import TOY_TRAINER, invoke


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


def test_an_unclosed_quote_in_train_args_is_one_line(tmp_path):
    done = invoke("train", "--args", "--hidden='8", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (
        2, "train: --args \"--hidden='8\": No closing quotation: close each quote, e.g. "
           "--args='--hidden=128 --epochs=10'"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_backend_is_one_line_naming_the_known_ones_and_how_to_add_one(tmp_path):
    """A backend an installed package declares (its entry point in sweeps.backends) is known to the tasks."""
    site = sandbox_backend.install(tmp_path / "site")
    done = invoke("tune", "--backend", "gke", "--dry-run", cwd=tmp_path,
                  env={**os.environ, "PYTHONPATH": str(site)})
    assert (done.returncode, done.stderr.strip()) == (
        2, "tune: unknown backend 'gke': the backends here are local, vertex, sandbox; a backend is a package plus "
           "one entry in jobs.registry.BUILT_IN or in the entry point group sweeps.backends: docs/architecture.md, "
           "\"How to add a backend\""), done.stderr


def test_text_in_square_brackets_prints_as_written_in_the_plan_the_sweep_and_the_report(tmp_path):
    """Rich reads ``[/x]`` as markup; a spec's values, a trainer's arguments and its output are text."""
    spec = ("name: brackets\nmetric: {id: loss, goal: minimize}\nalgorithm: grid\n"  # each value once
            "parameters:\n  marker: {type: categorical, values: ['[/oops]', '[bold]b[/bold]']}\n"
            f"trials: {{max: 2}}\ntrainer: {{command: [{sys.executable}, {TOY_TRAINER}], "
            "args: ['--steps=2', '--metric=loss', 'ARG']}\n")
    (tmp_path / "spec.yaml").write_text(spec.replace("ARG", "--y=-2"))
    (tmp_path / "refused.yaml").write_text(spec.replace("ARG", "--y=[/y]"))
    plan = invoke("tune", "--spec", "refused.yaml", "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "[/oops], [bold]b[/bold]" in plan.stdout and "--y=[/y]" in plan.stdout, plan.stdout
    refused = invoke("tune", "--spec", "refused.yaml", "--run-id", "refused", cwd=tmp_path, timeout=300)
    assert refused.returncode == 1 and "Traceback" not in refused.stdout + refused.stderr, refused.stderr
    assert "argument --y: invalid float value: '[/y]'" in refused.stdout  # the trainer's own words, as written
    swept = invoke("tune", "--spec", "spec.yaml", "--run-id", "brackets", cwd=tmp_path, timeout=300)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert "parameters: marker=[/oops]" in swept.stdout or "parameters: marker=[bold]b[/bold]" in swept.stdout
    reported = invoke("report", "--run-id", "brackets", cwd=tmp_path, timeout=300)
    assert reported.returncode == 0 and "Traceback" not in reported.stderr, reported.stderr
    assert "[/oops]" in reported.stdout and "[bold]b[/bold]" in reported.stdout, reported.stdout
