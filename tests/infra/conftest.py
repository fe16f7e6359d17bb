"""Pulumi mocks for the infra tests: a program runs to the end and every resource it registers is kept.

Each ``deploy`` sets fresh mocks and builds its resources inside a ``@pulumi.runtime.test`` run, so no
resource or output leaks from one test into the next.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

from infra.cloudbuild import TYPE as CLOUD_BUILD_IMAGE
from infra.config import StackConfig
from infra.policy import Registered
from infra.project import SweepsProject, SweepsProjectArgs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "infra" / "stacks" / "Pulumi.example.yaml"
PROJECT_NUMBER = "123456789012"
ACCESS_TOKEN = "ya29.mock-token"
# How a secret arrives among a resource's inputs: {SIG_KEY: SECRET_SIG, "value": ...}.
SIG_KEY, SECRET_SIG = pulumi.runtime.rpc._special_sig_key, pulumi.runtime.rpc._special_secret_sig


class GcpMocks(pulumi.runtime.Mocks):
    """Answers as Google Cloud would, computing the outputs the program reads; records every resource."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []
        self.states: list[dict] = []  # each resource's outputs, as the engine would record them

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(Registered(args.typ, args.name, args.inputs))
        state = dict(args.inputs)
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{args.inputs['accountId']}@{args.inputs['project']}.iam.gserviceaccount.com"
            state |= {"email": email, "member": f"serviceAccount:{email}",
                      "name": f"projects/{args.inputs['project']}/serviceAccounts/{email}"}
        elif args.typ == "gcp:projects/iAMCustomRole:IAMCustomRole":  # name: projects/{project}/roles/{role_id}
            state["name"] = f"projects/{args.inputs['project']}/roles/{args.inputs['roleId']}"
        elif args.typ in ("docker-build:index:Image", CLOUD_BUILD_IMAGE):
            state["digest"] = "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()
        self.states.append(state)
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        # No getProject: it reads the number through the Resource Manager API, which the program enables itself.
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"accessToken": ACCESS_TOKEN}
        raise NotImplementedError(f"no mock for invoke {args.token}")


@dataclass
class Deployment:
    """What a program registered, and its outputs resolved."""

    resources: list[Registered]
    urns: list[str]
    outputs: dict[str, Any]
    states: list[dict]  # each resource's outputs, in the order of resources

    def of_type(self, token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found


def deploy(program: Callable[[], Mapping[str, Any]], stack: str = "test") -> Deployment:
    """Run ``program`` under fresh mocks until every resource is registered."""
    mocks = GcpMocks()
    monitor = MockMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="sweeps", stack=stack, preview=False, monitor=monitor)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output:
        return pulumi.Output.from_input(program()).apply(outputs.update)

    run()
    return Deployment(mocks.resources, list(monitor.resources), outputs, mocks.states)


def project_outputs(config: StackConfig) -> Mapping[str, Any]:
    """Build one SweepsProject from ``config`` (within a deploy); its outputs."""
    args = SweepsProjectArgs(config, context=Path("."), dockerfile=Path("trainer/Dockerfile"))
    return SweepsProject(config.names.stack, args).outputs


def run_main(keys: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, Any]]:
    """A program that runs infra/__main__.py with these stack config keys; it returns the exports."""

    def program() -> dict[str, Any]:
        pulumi.runtime.set_all_config({key: value if isinstance(value, str) else json.dumps(value)
                                       for key, value in keys.items()})
        exported: dict[str, Any] = {}
        monkeypatch.setattr(pulumi, "export", exported.__setitem__)
        runpy.run_path(str(REPO / "infra" / "__main__.py"), run_name="__main__")
        return exported

    return program


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
