"""The outputs of an onboarded project's stack: what a cloud sweep needs to know about it.

They come from ``pulumi stack output --json --stack NAME`` where the Pulumi CLI is installed, or from a
file holding the same JSON (``--outputs FILE``). A missing or unusable output is an error naming it. Which outputs
there are is infra/outputs.py's, where the program that exports them reads them too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.config import check_digest_ref, check_project_id, check_region, check_team
from infra.outputs import Outputs, routes
from jobs.errors import UserError

REQUIRED = Outputs.required()
PREFIXES = ("data_root", "artifacts_root", "staging")  # staging: where the package route uploads trainer packages
GCS_PREFIX = re.compile(r"gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?")
TRAINER_ACCOUNT = re.compile(r"^(?P<team>[a-z][a-z0-9-]*)-trainer@")


class OutputsError(UserError, ValueError):
    """The stack outputs are missing, unreadable or unusable; the message names the output."""


@dataclass(frozen=True)
class StackOutputs(Outputs):
    """The stack outputs a sweep uses (infra/outputs.py), checked; ``source`` says where they were read from."""

    source: str = ""

    @property
    def routes(self) -> tuple[str, ...]:
        """The routes a trial can take on this stack."""
        return routes(bool(self.image), bool(self.staging))

    @classmethod
    def parse(cls, values: dict, source: str) -> StackOutputs:
        """Check the outputs one by one; every problem is reported at once."""
        problems = [f"output {name!r} is missing" for name in REQUIRED if not values.get(name)]
        problems += [f"output {name!r} must be a string, got {values[name]!r}"
                     for name in REQUIRED if values.get(name) and not isinstance(values[name], str)]
        if problems:
            raise OutputsError(f"{source}: " + "; ".join(problems))
        for name in PREFIXES:
            if (name in REQUIRED or values.get(name) is not None) and not GCS_PREFIX.fullmatch(str(values[name])):
                problems.append(f"output {name!r} must be a gs://BUCKET/PATH prefix (bucket: 3-63 of a-z, 0-9, "
                                f"'-', '_', '.'), got {values[name]!r}")
        for name, check in (("region", check_region), ("project", check_project_id)):
            try:
                check(values[name])
            except ValueError as exc:
                problems.append(f"output {name!r}: {exc}")
        for name in ("image", "cuda_image"):
            if values.get(name) is not None:
                try:
                    check_digest_ref(str(values[name]))
                except ValueError as exc:
                    problems.append(f"output {name!r}: {exc}; Vertex AI trials run the image pinned by digest, "
                                    "never a tag: run `invoke infra.up --stack STACK` to push it and export its digest")
        team = values.get("team") or team_of(values["trainer_service_account"])
        if not team:
            problems.append("output 'team' is missing and the trainer_service_account "
                            f"{values['trainer_service_account']!r} is not <team>-trainer@...")
        else:
            try:
                check_team(str(team))  # it becomes a label value on the job
            except ValueError as exc:
                problems.append(f"output 'team': {exc}")
        if problems:
            raise OutputsError(f"{source}: " + "; ".join(problems))
        return cls(**{name: values.get(name) for name in Outputs.names()} | {"team": team}, source=source)


def team_of(service_account: str) -> str | None:
    """The team a stack's trainer account (``<team>-trainer@...``) belongs to; None for another account."""
    match = TRAINER_ACCOUNT.match(service_account)
    return match["team"] if match else None


def load_outputs(stack: str | None = None, outputs_file: str | Path | None = None) -> StackOutputs:
    """Outputs from ``outputs_file`` when given, else from ``pulumi stack output`` for ``stack``."""
    if outputs_file is not None:
        source = str(outputs_file)
        try:
            text = Path(outputs_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputsError(f"{source}: cannot read the outputs file: {exc.strerror or exc}") from None
    elif stack:
        source = f"pulumi stack output --stack {stack}"
        text = _pulumi_outputs(stack)
    else:
        raise OutputsError("name the stack (--stack TEAM-PROJECT) or an outputs file (--outputs FILE, the JSON "
                           "of `pulumi stack output --json`)")
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source}: not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise OutputsError(f"{source}: expected a JSON object of outputs, got {type(values).__name__}")
    return StackOutputs.parse(values, source)


def _pulumi_outputs(stack: str) -> str:
    if shutil.which("pulumi") is None:
        raise OutputsError("the pulumi CLI is not on PATH: install it, or pass the stack's outputs as a file "
                           "(--outputs FILE, written by `pulumi stack output --json --stack "
                           f"{stack}` on a machine that has it)")
    done = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OutputsError(f"pulumi stack output --stack {stack} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout
