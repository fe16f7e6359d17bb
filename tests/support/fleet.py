"""Three stacks of two teams, and the recording fake ``pulumi`` CLI (tests/support/fake_pulumi/pulumi) that answers
for them, for the fleet view and the operations over many stacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

FAKE_PULUMI = Path(__file__).resolve().parent / "fake_pulumi"
# stack -> (team, project, region); sorted by stack name, the order the operations take them in
STACKS = {"nlp-words-ml": ("nlp", "words-ml", "us-central1"),
          "vision-acme-lab": ("vision", "acme-lab", "europe-west4"),
          "vision-acme-ml": ("vision", "acme-ml", "europe-west4")}


def write_stacks(folder: Path, **extra_keys: dict) -> list[Path]:
    """The three stack files in ``folder``; ``extra_keys``: more config keys for a stack, by stack name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stack, (team, project, region) in STACKS.items():
        keys = {"gcp:project": project, "gcp:region": region, "sweeps:team": team,
                "sweeps:launchers": [f"group:{team}@example.com"], **extra_keys.get(stack, {})}
        path = folder / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump({"config": keys}, sort_keys=False))
        paths.append(path)
    return paths


def history(*entries: tuple[str, str, str]) -> list[dict]:
    """``pulumi stack history --json`` entries (UpdateSummary) from (kind, startTime, result), newest first."""
    return [{"version": len(entries) - i, "kind": kind, "startTime": start, "endTime": start, "result": result,
             "message": "", "environment": {}, "config": {}, "resourceChanges": {"same": 12}}
            for i, (kind, start, result) in enumerate(entries)]


def fake_pulumi(home: Path, canned: dict, path: str | None = None) -> dict[str, str]:
    """The environment of a process that runs the fake ``pulumi`` with ``canned`` answers (by stack name) kept in
    ``home``, where it records its calls."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "stacks.json").write_text(json.dumps(canned))
    return {**os.environ, "FAKE_PULUMI": str(home),
            "PATH": f"{FAKE_PULUMI}{os.pathsep}{path if path is not None else os.environ['PATH']}"}


def calls(home: Path) -> list[list[str]]:
    """Every command line the fake ``pulumi`` was run with, in order."""
    log = home / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def operations(home: Path) -> list[tuple[str, str]]:
    """(command, stack) of each preview or up the fake ran, in order."""
    return [(argv[0], argv[argv.index("--stack") + 1]) for argv in calls(home) if argv[0] in ("preview", "up")]
