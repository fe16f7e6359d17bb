"""The packages import one another one way: tasks/ on jobs/ and infra/, jobs/ on infra/'s shared rules, infra/ on
nothing of ours; the spec knows no console and no backend; and no module of ours takes part in an import cycle,
counting the imports made inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
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


def test_infra_imports_nothing_of_jobs_or_tasks_and_jobs_nothing_of_tasks(graph):
    between = defaultdict(set)
    for name, targets in graph.items():
        for target in targets:
            if target.split(".")[0] != name.split(".")[0]:
                between[name.split(".")[0]].add(f"{name} -> {target}")
    assert not between["infra"] and not between["jobs"] - {e for e in between["jobs"] if " -> infra" in e}


@pytest.mark.parametrize("package", ["jobs.spec", "infra.project", "infra.onboard", "jobs.cloud.stack", "tasks"])
def test_each_package_imports_alone_in_a_fresh_interpreter(package):
    check = (f"import sys, {package}; print(','.join(sorted(m for m in sys.modules "
             "if m.startswith(('jobs.console', 'jobs.backends', 'jobs.local', 'jobs.vertex')))))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    if package == "jobs.spec":  # the spec knows no console, and no backend
        assert done.stdout.strip() == ""
