"""The namespace (tasks/__init__.py): every task listed, with its flags and their help; -h shows help and runs
nothing; the sweep tasks at the root and the infra tasks under infra."""

from __future__ import annotations

import inspect
import re

from tests.support.helpers import invoke

INTEGER_FLAGS = {"trials", "parallel", "seed", "budget"}  # shown as INT; a bad value is one line, not a traceback


def expected_options(task) -> dict[str, str]:
    """The options a task's help should list, spelled as Invoke shows them, each with the help text its
    module gives it: one per parameter of the task's function."""
    options = {}
    for parameter in list(inspect.signature(task.body).parameters.values())[1:]:  # after the context
        flag = "--" + parameter.name.strip("_").replace("_", "-")  # all_ is --all, as Invoke spells it
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
    assert {"data", "train", "tune", "report", "status", "cancel", "infra.onboard", "infra.preview", "infra.up",
            "infra.destroy", "infra.drift", "infra.fleet"} == set(names)
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
