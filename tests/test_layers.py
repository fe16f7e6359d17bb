"""The packages import one another one way: the Pulumi program and the rules jobs/ shares with it (infra/config.py,
infra/outputs.py, ...) import nothing of jobs/; only what sits above both imports both (tasks/, and infra/fleet.py,
which joins stacks with their sweeps). The spec knows no console and no backend; and no module of ours takes part in
an import cycle, counting the imports made inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter

import pytest

from tests.support.helpers import REPO

PACKAGES = ("jobs", "infra", "tasks")


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "venv" in path.parts:
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = ast.parse(path.read_text())
    return found


def _imports(name: str, tree: ast.Module, package: bool, known: set[str]) -> set[str]:
    """The modules of ours ``name`` imports anywhere in its body, leaving out those only a type checker reads."""
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING":
            block.body = []
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if package else name.split(".")[:-1]
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
            targets |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}  # imported first anyway
    return {target for target in targets if target in known and target != name and target not in ancestors}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, tree, (REPO / name.replace(".", "/") / "__init__.py").exists(), known)
            for name, tree in modules.items()}


def test_no_module_takes_part_in_an_import_cycle(graph):
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def _reached(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    """``start`` and every module it imports, directly or not."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    return seen


def test_what_jobs_takes_from_infra_and_the_pulumi_program_import_nothing_of_jobs_or_tasks(graph):
    shared = {target for name, targets in graph.items() if name.startswith("jobs") for target in targets
              if target.startswith("infra")}
    assert shared  # jobs/ reads infra/'s rules (outputs, id checks), one way
    program = {name for name in graph if name == "infra.__main__"}
    reached = _reached(graph, shared | program)
    assert not {name for name in reached if not name.startswith("infra")}
    assert not any(name.startswith("tasks") for name in _reached(graph, {n for n in graph if n.startswith("jobs")}))


@pytest.mark.parametrize("package", ["jobs.spec", "infra.project", "infra.onboard", "jobs.cloud.stack", "tasks"])
def test_each_package_imports_alone_in_a_fresh_interpreter(package):
    check = (f"import sys, {package}; print(','.join(sorted(m for m in sys.modules "
             "if m.startswith(('jobs.console', 'jobs.backends', 'jobs.local', 'jobs.vertex')))))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    if package == "jobs.spec":  # the spec knows no console, and no backend
        assert done.stdout.strip() == ""
