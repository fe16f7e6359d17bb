"""Pulumi mocks for the infra tests: a program runs to the end and every resource it registers is kept.

Each ``deploy`` sets fresh mocks and builds its resources inside a ``@pulumi.runtime.test`` run, so no
resource or output leaks from one test into the next.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import StackConfig
from tests.support.pulumi_mocks import (
    EXAMPLE,
    PROJECT_NUMBER,
    REPO,
)


@pytest.fixture
def config() -> StackConfig:
    """A project with two launchers, versioning, artifact expiry and a budget."""
    return StackConfig.parse({
        "project": "acme-ml", "region": "europe-west4", "team": "vision",
        "launchers": ["user:ann@example.com", "group:vision@example.com"],
        "versioning": True, "artifacts_retention_days": 60, "staging_retention_days": 3,
        "soft_delete_days": 14, "image_keep_count": 3,
        "budget_amount": 500, "billing_account": "012345-6789AB-CDEF01", "project_number": PROJECT_NUMBER,
    })


@pytest.fixture
def example_keys() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())["config"]


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The tasks, the library and the Pulumi program copied (no environments, no policy pack config, no stack file
    but the example), so a test can place those; a ``pulumi`` in ``<tmp>/bin`` records each command line in
    ``<tmp>/pulumi-calls``."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    for name in ("tasks", "jobs", "infra"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("venv", "__pycache__", ".venv.lock"))
    (root / "infra" / "policypack" / "config.json").unlink(missing_ok=True)
    for stack_file in (root / "infra" / "stacks").glob("Pulumi.*.yaml"):
        if stack_file.name != EXAMPLE.name:
            stack_file.unlink()
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "pulumi-calls"}\n')
    fake.chmod(0o755)
    return root
