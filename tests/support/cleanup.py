"""Artifact Registry's cleanup policies, evaluated as Google documents them ("Configure cleanup policies",
cloud.google.com/artifact-registry/docs/repositories/cleanup-policy), over the policies a stack registers.

- A condition matches a version when every field it sets matches; within a list of prefixes, one match is
  enough. ``tagState`` ANY (the default), TAGGED or UNTAGGED; ``olderThan`` compares the upload time.
- ``mostRecentVersions`` keeps the ``keepCount`` newest versions of each package it names; it is KEEP-only.
- "If an artifact version matches criteria in both a delete policy and a keep policy, Artifact Registry
  applies the keep policy." A version no policy matches stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Version:
    package: str
    digest: str
    age_days: float
    tags: tuple[str, ...] = field(default_factory=tuple)


def _prefixed(value: str, prefixes: list[str] | None) -> bool:
    return prefixes is None or any(value.startswith(p) for p in prefixes)


def _matches(condition: dict, version: Version) -> bool:
    state = condition.get("tagState", "ANY")
    if (state == "TAGGED" and not version.tags) or (state == "UNTAGGED" and version.tags):
        return False
    if "tagPrefixes" in condition and not any(_prefixed(t, condition["tagPrefixes"]) for t in version.tags):
        return False
    if "olderThan" in condition and version.age_days * 86400 <= float(str(condition["olderThan"]).rstrip("s")):
        return False
    return _prefixed(version.package, condition.get("packageNamePrefixes"))


def deleted(policies: list[dict], versions: list[Version]) -> set[str]:
    """Digests the cleanup deletes."""
    kept, doomed = set(), set()
    for policy in policies:
        if policy["action"] == "KEEP" and "mostRecentVersions" in policy:
            recent = policy["mostRecentVersions"]
            for package in {v.package for v in versions if _prefixed(v.package, recent.get("packageNamePrefixes"))}:
                newest = sorted((v for v in versions if v.package == package), key=lambda v: v.age_days)
                kept.update(v.digest for v in newest[:int(recent["keepCount"])])
        elif "condition" in policy:
            chosen = {v.digest for v in versions if _matches(policy["condition"], v)}
            (kept if policy["action"] == "KEEP" else doomed).update(chosen)
    return doomed - kept
