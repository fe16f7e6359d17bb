"""The invoke tasks as a user runs them."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys

import pytest

from tests.support.helpers import REPO, TOY_TRAINER, invoke

INTEGER_FLAGS = {"trials", "parallel", "seed", "budget"}  # shown as INT; a bad value is one line, not a traceback


def expected_options(task) -> dict[str, str]:
    """The options a task's help should list, spelled as Invoke shows them, each with the help text tasks.py
    gives it: one per parameter of the task's function."""
    options = {}
    for parameter in list(inspect.signature(task.body).parameters.values())[1:]:  # after the context
        flag = "--" + parameter.name.replace("_", "-")
        if parameter.name in task.iterable:
            pass  # --run-id a --run-id b
        elif isinstance(parameter.default, bool):
            flag = flag.replace("--", "--[no-]") if parameter.default else flag
        elif parameter.name in INTEGER_FLAGS:
            flag += "=INT"
        else:
            flag += "=STRING"
        options[flag] = task.help.get(parameter.name, "")
    return options


def shown_options(help_text: str) -> dict[str, str]:
    """The Options section of ``invoke --help TASK``: each flag and its help, wrapped lines joined."""
    options: dict[str, str] = {}
    flag = None
    for line in help_text.split("\nOptions:\n", 1)[1].splitlines():
        if line.startswith("  -"):
            flag, _, text = line.strip().partition(" ")
            options[flag] = text
        elif line.strip():
            options[flag] += " " + line.strip()
    return options


def unwrapped(text: str) -> str:
    """Text without whitespace: Invoke wraps help to the terminal's width, breaking lines at spaces and hyphens."""
    return re.sub(r"\s+", "", text)


def test_every_task_lists_its_flags_with_their_help_and_h_shows_help_and_runs_nothing(tmp_path):
    import tasks

    listing = invoke("--list")
    assert listing.returncode == 0, listing.stderr
    listed = [line.split()[0] for line in listing.stdout.splitlines() if re.match(r"  \S", line)]
    names = sorted(tasks.namespace.task_names)
    assert sorted(listed) == names
    assert {"data", "train", "tune", "report", "status", "cancel", "onboard", "infra.up"} <= set(names)
    for name in names:
        task = tasks.namespace[name]
        expected = expected_options(task)
        assert all(expected.values()), f"{name}: a flag without help text: {expected}"
        helped = invoke("--help", name)
        assert helped.returncode == 0, (name, helped.stderr)
        assert helped.stdout.startswith(f"Usage: inv[oke] [--core-opts] {name} [--options]"), helped.stdout
        docstring = helped.stdout.split("Docstring:\n", 1)[1].split("\n\n")[0]
        assert task.body.__doc__ and unwrapped(docstring) == unwrapped(task.body.__doc__), name
        shown = shown_options(helped.stdout)
        assert sorted(shown) == sorted(expected), name
        for flag, text in expected.items():
            assert unwrapped(shown[flag]) == unwrapped(text), (name, flag, shown[flag])
        asked = invoke(name, "-h", cwd=tmp_path)  # Invoke's --help after the task name is the same core flag
        assert (asked.returncode, asked.stdout, asked.stderr) == (0, helped.stdout, ""), name
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


def test_an_unclosed_quote_in_train_args_is_one_line(tmp_path):
    done = invoke("train", "--args", "--hidden='8", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (
        2, "train: --args \"--hidden='8\": No closing quotation: close each quote, e.g. "
           "--args='--hidden=128 --epochs=10'"), done.stderr
    assert list(tmp_path.iterdir()) == []


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
