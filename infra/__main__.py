"""The program ``pulumi up`` runs: read the stack config, build one SweepsProject, export its outputs."""

import os
from pathlib import Path

import pulumi

from infra.config import ConfigError, StackConfig
from infra.project import SweepsProject, SweepsProjectArgs

REPO = Path(__file__).resolve().parents[1]

try:
    config = StackConfig.from_pulumi()
except ConfigError as exc:
    raise pulumi.RunError(f"infra/stacks/Pulumi.{pulumi.get_stack()}.yaml: {exc}") from None

# Relative to the working directory, so the state does not change from one checkout to another.
context = Path(os.path.relpath(REPO))
project = SweepsProject(config.names.stack, SweepsProjectArgs(config, context=context,
                                                         dockerfile=context / "trainer" / "Dockerfile"))
for key, value in project.outputs.items():
    pulumi.export(key, value)
