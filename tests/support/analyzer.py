"""The policy pack run the way the Pulumi engine runs it: its own process, spoken to over gRPC.

The Python language host starts an analyzer as ``python -u -m pulumi.policy ENGINE_ADDRESS PACK_DIR`` in the
pack's folder, with the stack's config in PULUMI_CONFIG (pulumi/pulumi sdk/python/cmd/pulumi-language-python
RunPlugin, sdk/policy_proxy.go); the pack prints its port as its first line (plugin.go parsePort). The engine
then calls GetAnalyzerInfo, Configure with every policy at its own level (``ReconcilePolicyPackConfig``: the
levels the pack declares, then the --policy-pack-config file's ``all`` level, then its per-policy ones), Analyze
for each resource with its checked inputs, and AnalyzeStack once with every resource's outputs
(analyzer_plugin.go, step_generator.go). The pack never dials the engine (pulumi/policy/__main__.py parses the
address and does not use it), so none is given.
Not done here: Handshake and ConfigureStack, which the pack does not implement or only reads tags from, and
the JSON-schema check of the config file, which the engine makes before Configure.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.support.helpers import pip_install
from tests.support.pulumi_mocks import REPO, Deployment

PACK = REPO / "infra" / "policypack"
PYTHON = PACK / "venv" / "bin" / "python"
LEVELS = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory", analyzer_pb2.DISABLED: "disabled"}


def ensure_pack_environment() -> Path:
    """The pack's virtual environment (as Pulumi makes it from requirements.txt, PulumiPolicy.yaml's virtualenv);
    ``make test`` makes it first, this only when it is missing."""
    with open(PACK / ".venv.lock", "w") as lock:  # concurrent test runs make it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = PYTHON.exists() and subprocess.run([str(PYTHON), "-c", "import pulumi_policy"]).returncode == 0
        if not ready:
            subprocess.run([sys.executable, "-m", "venv", str(PACK / "venv")], check=True)
            pip_install(PYTHON, "-r", str(PACK / "requirements.txt"), check=True)
    return PYTHON


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    urn: str
    message: str


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(json.loads(json.dumps(values, default=str)))  # numbers as floats, as the engine sends them
    return out


def _diagnostics(response) -> list[Diagnostic]:
    return [Diagnostic(d.policyName, LEVELS[d.enforcementLevel], d.urn, d.message) for d in response.diagnostics]


class PolicyPackProcess:
    """``with PolicyPackProcess(stack_config={...}, pack_config={...}) as pack:`` then ``pack.analyze(deployed)``."""

    def __init__(self, stack_config: Mapping[str, Any] | None = None, pack_config: Mapping[str, Any] | None = None):
        config = {key: value if isinstance(value, str) else json.dumps(value)
                  for key, value in (stack_config or {}).items()}
        env = {**os.environ, "PULUMI_CONFIG": json.dumps(config), "PULUMI_PROJECT": "sweeps",
               "PULUMI_STACK": "test", "PULUMI_DRY_RUN": "false"}
        self.log = tempfile.TemporaryFile()  # the pack's stderr, read by stderr()
        self.process = subprocess.Popen([str(ensure_pack_environment()), "-u", "-m", "pulumi.policy", "127.0.0.1:0",
                                         str(PACK)], cwd=PACK, env=env, stdout=subprocess.PIPE, stderr=self.log)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the pack printed {line!r}, not its port: {self.stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        self.stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
            p.name: _policy_config(p, pack_config or {}) for p in self.info.policies}))

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.channel.close()
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.log.close()

    def stderr(self) -> str:
        """What the pack has written to stderr so far (it runs unbuffered)."""
        self.log.seek(0)
        return self.log.read().decode()

    def levels(self) -> dict[str, str]:
        return {p.name: LEVELS[p.enforcementLevel] for p in self.info.policies}

    def analyze(self, deployed: Deployment) -> list[Diagnostic]:
        """Analyze on each resource's inputs, then AnalyzeStack on every resource's outputs and the stack's."""
        urns = {(urn.rsplit("::", 2)[1].rsplit("$", 1)[-1], urn.rsplit("::", 1)[1]): urn for urn in deployed.urns}
        found = []
        for resource in deployed.resources:
            urn = urns[(resource.type, resource.name)]
            found += [d if d.urn else Diagnostic(d.policy, d.level, urn, d.message) for d in _diagnostics(
                self.stub.Analyze(analyzer_pb2.AnalyzeRequest(type=resource.type, name=resource.name, urn=urn,
                                                              properties=_struct(resource.inputs))))]
        stack = "urn:pulumi:test::sweeps::pulumi:pulumi:Stack::sweeps-test"
        everything = [analyzer_pb2.AnalyzerResource(type=r.type, name=r.name, urn=urns[(r.type, r.name)],
                                                    properties=_struct(state))
                      for r, state in zip(deployed.resources, deployed.states)]
        everything.append(analyzer_pb2.AnalyzerResource(type="pulumi:pulumi:Stack", name="sweeps-test", urn=stack,
                                                        properties=_struct(deployed.outputs)))
        found += _diagnostics(self.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=everything)))
        return found


def _policy_config(info, config: Mapping[str, Any]) -> analyzer_pb2.PolicyConfig:
    """What the engine sends for one policy: its declared level, over it the config file's ``all`` level, over that
    the policy's own level, and the policy's properties; a level is a string or ``{"enforcementLevel": ...}``."""
    every, given = _config_entry(config.get("all")), _config_entry(config.get(info.name))
    named = given.pop("enforcementLevel", None) or every.get("enforcementLevel")
    level = {name: level for level, name in LEVELS.items()}[named] if named else info.enforcementLevel
    return analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(given))


def _config_entry(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    return {"enforcementLevel": value} if isinstance(value, str) else dict(value or {})
