"""Onboarding a project: write its stack config, and the ``pulumi`` commands that deploy it (with what is checked
before they run).

Validation is the stack's own (``infra.config.StackConfig``): what this writes is exactly what
``pulumi up`` accepts. Pulumi itself is not imported here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from infra.config import ConfigError, StackConfig, read_regular, read_stack_file
from infra.policy import MANDATORY

INFRA = Path(__file__).resolve().parent
REPO = INFRA.parent  # where Pulumi.yaml is: the --cwd of every pulumi command
STACKS = INFRA / "stacks"
POLICY_PACK = INFRA / "policypack"  # checked on every preview and update (infra/policy.py's rules)
POLICY_CONFIG = POLICY_PACK / "config.json"  # a platform team's settings for the pack, when present
POLICY_ENV = "venv"  # the pack's environment, infra/policypack/PulumiPolicy.yaml: runtime options virtualenv
LOWER_LEVELS = ("advisory", "disabled")  # below mandatory; "remediate" still stops an update
CHECKED = ("preview", "up")  # the actions the policy pack runs on
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
    the bad value, or the existing file and why it is no stack file. An existing file keeps its other keys (e.g.
    the secrets provider's salt and config outside ``sweeps:``); its ``sweeps:`` keys are replaced (so they need
    not be valid).
    """
    config = StackConfig.parse({"project": project, "team": team, "region": region,
                                "launchers": list(launchers), **options})
    path = Path(out_dir) / f"Pulumi.{config.names.stack}.yaml"
    try:
        document = read_stack_file(path) if path.exists() else {}
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}: fix the file, or remove it to start afresh") from None
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
    if policy and action in CHECKED:
        checks = ["--policy-pack", str(POLICY_PACK)]
        if POLICY_CONFIG.exists():
            checks += ["--policy-pack-config", str(POLICY_CONFIG)]
    return ["pulumi", *ACTIONS[action], "--stack", stack, "--cwd", str(REPO), *checks]


def ensure_policy_env(say, pack: Path = POLICY_PACK) -> None:
    """Make the policy pack's environment from its requirements.txt when it is missing, saying so with ``say``:
    the Pulumi engine runs a local pack from it but does not make it ("virtual environment ... doesn't exist")."""
    env = pack / POLICY_ENV
    if (env / "bin" / "python").exists():
        return
    say(f"making the policy pack's environment {env} from {pack / 'requirements.txt'} (once)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True, text=True)
        subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(pack / "requirements.txt")], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(env, ignore_errors=True)  # half an environment would pass the check above next time
        said = [line for line in (exc.stderr or "").splitlines() if line.strip()][-1:] or [f"exit {exc.returncode}"]
        raise ConfigError(f"making {env} failed ({said[0]}): check that the package index is reachable, or run "
                        "`make install`, then run the same command again") from None
    (env / ".installed").touch()  # what `make install` leaves, so it does not make it again


def policy_check(action: str, stack: str, policy: bool = True, config: Path = POLICY_CONFIG,
                 stacks: Path = STACKS) -> str | None:
    """What to check before ``pulumi preview|up``: with the policy pack, that its ``config`` file (when present)
    lowers no mandatory policy; without it, that an update's stack file allows that (``sweeps:allowNoPolicy``).
    Raise ConfigError saying what to do; return the warning to print when the pack is skipped, else None."""
    if action not in CHECKED:
        return None
    if policy:
        check_policy_config(config)
        return None
    skipped = f"skips the mandatory policies {', '.join(sorted(MANDATORY))}"
    stack_file = stacks / f"Pulumi.{stack}.yaml"
    if action == "up" and not _allows_no_policy(stack_file):
        raise ConfigError(f"--no-policy {skipped}, which {stack_file} does not allow: run without --no-policy, or "
                        "have the platform team set sweeps:allowNoPolicy: true in that file")
    if action == "up":
        return f"WARNING: --no-policy {skipped}: nothing stops this update from deploying what they forbid"
    return f"note: --no-policy {skipped}: this preview does not say what they would refuse"


def check_policy_config(path: Path = POLICY_CONFIG) -> None:
    """A policy pack config file keeps every mandatory policy mandatory. It sets levels under ``all`` and under
    a policy's own name (which wins), as a string or ``{"enforcementLevel": ...}``
    (pulumi.com/docs/iac/using-pulumi/crossguard/configuration)."""
    if not path.exists():
        return
    try:
        config = json.loads(read_regular(path))
    except ConfigError as exc:  # a device, a FIFO or a huge file
        raise ConfigError(f"{path}: {exc}: make it the pack's JSON config, or remove it") from None
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError(f"{path}: not valid JSON ({exc}): fix it, or remove the file") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: must be a JSON object keyed by policy name (or all), not {type(config).__name__}: "
                        'fix it, e.g. {"regions-allowed": {"allowedRegions": ["europe-west4"]}}')
    lowered: dict[str, list[str]] = {}
    for name in sorted(MANDATORY):
        key = name if _level(config.get(name)) else "all"
        if _level(config.get(key)) in LOWER_LEVELS:
            lowered.setdefault(key, []).append(name)
    if lowered:
        key, names = next(iter(lowered.items()))
        policies = f"policies {', '.join(names)}" if len(names) > 1 else f"policy {names[0]}"
        raise ConfigError(f"{path}: {key!r} sets the level {_level(config[key])!r}, which would lower the mandatory "
                        f"{policies}: remove that level (set an advisory policy's level under its own name)")


def _level(value: Any) -> Any:
    """The enforcement level a config entry names, if any."""
    return value.get("enforcementLevel") if isinstance(value, dict) else value


def _allows_no_policy(path: Path) -> bool:
    """Whether the stack file sets ``sweeps:allowNoPolicy: true`` (no file: no)."""
    if not path.exists():
        return False
    try:
        return StackConfig.from_stack_file(path).allow_no_policy
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        raise ConfigError(f"{path}: {exc}: fix the stack file, or run without --no-policy") from None
