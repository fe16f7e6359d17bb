"""Pulumi mocks for the infra tests: a program runs to the end and every resource it registers is kept.

Each ``deploy`` sets fresh mocks and builds its resources inside a ``@pulumi.runtime.test`` run, so no
resource or output leaks from one test into the next.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from infra.cloudbuild import TYPE as CLOUD_BUILD_IMAGE
from infra.config import StackConfig
from infra.policy import WIF_PROVIDER, Registered
from infra.project import SweepsProject, SweepsProjectArgs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "infra" / "stacks" / "Pulumi.example.yaml"
PROJECT_NUMBER = "123456789012"
ACCESS_TOKEN = "ya29.mock-token"
WIF_POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
WIF_PARENT = f"projects/{PROJECT_NUMBER}/locations/global"  # pools live under the project's number
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
        elif args.typ == WIF_POOL:  # name: projects/{project_number}/locations/global/workloadIdentityPools/{id}
            state["name"] = f"{WIF_PARENT}/workloadIdentityPools/{args.inputs['workloadIdentityPoolId']}"
        elif args.typ == WIF_PROVIDER:  # name: .../workloadIdentityPools/{pool}/providers/{id}
            state["name"] = (f"{WIF_PARENT}/workloadIdentityPools/{args.inputs['workloadIdentityPoolId']}"
                             f"/providers/{args.inputs['workloadIdentityPoolProviderId']}")
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
