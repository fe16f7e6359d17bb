"""The GitHub Actions workflows (.github/workflows and the team example in docs/examples) are linted as CI would
have them: check-jsonschema against the workflow schema (unknown keys, wrong types) and zizmor's offline audits
(unpinned actions, template injection, persisted credentials, excessive permissions). Their invoke commands are
ones the README and docs show."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.helpers import REPO

WORKFLOWS = [*sorted((REPO / ".github" / "workflows").glob("*.yml")), REPO / "docs" / "examples" / "team-sweep.yml"]
BIN = Path(sys.executable).parent
LINTERS = (
    [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"],
    [str(BIN / "zizmor"), "--offline", "--no-progress"],  # offline: the audits that need GitHub's API are skipped
)
INVOKE = re.compile(r"\binvoke ([a-z][\w.]*)([^`\n]*)")
FLAG = re.compile(r"--[a-z][\w-]*")


def lint(paths: list[Path]) -> list[str]:
    """What each linter says of ``paths``, for those that fail; empty when every one passes."""
    found = []
    for linter in LINTERS:
        done = subprocess.run([*linter, *map(str, paths)], capture_output=True, text=True)
        if done.returncode != 0:
            found.append(f"{Path(linter[0]).name} exit {done.returncode}:\n{done.stdout}{done.stderr}")
    return found


def invocations(text: str) -> Iterator[tuple[str, set[str]]]:
    """Each ``invoke TASK --flag ...`` in ``text``: the task and its flags."""
    for match in INVOKE.finditer(text):
        yield match[1], set(FLAG.findall(match[2]))


def run_scripts(workflow: Path) -> Iterator[str]:
    for job in yaml.safe_load(workflow.read_text())["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                yield step["run"]


def test_the_workflows_pass_the_linters():
    assert len(WORKFLOWS) >= 2 and all(path.exists() for path in WORKFLOWS)
    assert lint(WORKFLOWS) == []


@pytest.mark.parametrize("change, linter, says", [
    (lambda text: text.replace("    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    timeout-minute: 30\n"),
     "check-jsonschema", "'timeout-minute' was unexpected"),
    (lambda text: text.replace('--spec "$SPEC"', "--spec ${{ inputs.spec }}"), "zizmor", "template-injection"),
    (lambda text: re.sub(r"google-github-actions/auth@\S+", "google-github-actions/auth@v3", text), "zizmor",
     "unpinned-uses"),
], ids=["unknown key", "input in a script", "action by tag"])
def test_a_broken_workflow_fails_the_lint(tmp_path, change, linter, says):
    example = REPO / "docs" / "examples" / "team-sweep.yml"
    broken = tmp_path / "sweep.yml"
    broken.write_text(change(example.read_text()))
    assert broken.read_text() != example.read_text()
    (found,) = lint([broken])
    assert found.startswith(f"{linter} exit ") and says in found, found


def test_the_workflows_run_only_invoke_commands_the_docs_show():
    shown: dict[str, set[str]] = {}
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for task, flags in invocations(page.read_text()):
            shown.setdefault(task, set()).update(flags)
    used = [(path.name, task, flags) for path in WORKFLOWS for script in run_scripts(path)
            for task, flags in invocations(script)]
    assert {task for _, task, _ in used} >= {"tune", "infra.preview", "infra.up"}
    unshown = [(name, task, sorted(flags - shown.get(task, set()))) for name, task, flags in used
               if task not in shown or not flags <= shown[task]]
    assert unshown == [], "commands or flags the README and docs do not show"
