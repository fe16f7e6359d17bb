"""Onboarding a project: write its stack config, and the ``pulumi`` commands that deploy it.

Validation is the stack's own (``infra.config.StackConfig``): what this writes is exactly what
``pulumi up`` accepts. Pulumi itself is not imported here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from infra.config import StackConfig

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "infra" / "stacks"
POLICY_PACK = REPO / "infra" / "policypack"  # checked on every preview and update (infra/policy.py's rules)
POLICY_CONFIG = POLICY_PACK / "config.json"  # a platform team's settings for the pack, when present
ACTIONS = {
    "select": ["stack", "select", "--create"],  # create the stack in the backend if it is new
    "preview": ["preview"],
    "up": ["up"],
    "destroy": ["destroy"],
}


def write_stack_config(project: str, team: str, region: str, launchers: list[str], out_dir: Path = STACKS,
                       **options: Any) -> Path:
    """Validate and write ``<out_dir>/Pulumi.<team>-<project>.yaml``; return its path.

    ``options`` are the optional stack settings by field name (``budget_amount=200``,
    ``trainer_image=...``; see infra/stacks/Pulumi.example.yaml). Raises ValueError naming the key and
    the bad value. An existing file keeps its other keys (e.g. the secrets provider's salt and
    config outside ``sweeps:``); its ``sweeps:`` keys are replaced.
    """
    config = StackConfig.parse({"project": project, "team": team, "region": region,
                                "launchers": list(launchers), **options})
    path = Path(out_dir) / f"Pulumi.{config.names.stack}.yaml"
    document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    kept = {key: value for key, value in (document.get("config") or {}).items()
            if not key.startswith("sweeps:")}
    document["config"] = {**kept, **config.to_keys()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def pulumi_available() -> bool:
    """Whether the ``pulumi`` CLI is on PATH."""
    return shutil.which("pulumi") is not None


def stack_command(action: str, stack: str, policy: bool = True) -> list[str]:
    """The ``pulumi`` command line for ``select`` (create if new), ``preview``, ``up`` or ``destroy``; a preview or
    an update runs the policy pack (with its config file when there is one) unless ``policy`` is False."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    checks = []
    if policy and action in ("preview", "up"):
        checks = ["--policy-pack", str(POLICY_PACK)]
        if POLICY_CONFIG.exists():
            checks += ["--policy-pack-config", str(POLICY_CONFIG)]
    return ["pulumi", *ACTIONS[action], "--stack", stack, "--cwd", str(REPO), *checks]
