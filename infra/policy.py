"""Policy rules over a whole resource graph: what no stack may deploy, whatever the program says.

A rule looks at one registered resource (its type token, name and inputs as the engine receives them:
camelCase keys, secrets wrapped) and yields what is wrong with it. :func:`check` runs every rule over
every resource, and checks the image references among the stack outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.config import DIGEST_REF

BUCKET = "gcp:storage/bucket:Bucket"
KEYS = ("gcp:serviceaccount/key:Key", "gcp:storage/hmacKey:HmacKey")
ABOVE_ACCOUNT_IAM = re.compile(r"^gcp:(projects|folder|organizations)/iAM(Member|Binding|Policy):")
PRIMITIVE_ROLE = re.compile(r"\broles/(owner|editor|viewer)\b")
PUBLIC_MEMBER = re.compile(r"\ball(Authenticated)?Users\b")
ACT_AS = "roles/iam.serviceAccountUser"
IMAGE_KEY = re.compile(r"image(uri)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Registered:
    """One resource as registered with the engine."""

    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str  # "<type> <name>", or "output <key>"
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.message}"


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair at any depth of nested dicts and lists."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key), item
            yield from _items(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _items(item)


def _strings(inputs: Mapping[str, Any]) -> set[str]:
    return {item for _, item in _items(inputs) if isinstance(item, str)}


def no_primitive_roles(resource: Registered) -> Iterable[str]:
    """Owner, Editor and Viewer grant far more than anything here needs."""
    for role in sorted({m.group(0) for s in _strings(resource.inputs) for m in PRIMITIVE_ROLE.finditer(s)}):
        yield f"grants the primitive role {role}"


def no_public_members(resource: Registered) -> Iterable[str]:
    """Nothing is granted to allUsers or allAuthenticatedUsers."""
    for member in sorted({m.group(0) for s in _strings(resource.inputs) for m in PUBLIC_MEMBER.finditer(s)}):
        yield f"grants access to {member}"


def buckets_locked_down(resource: Registered) -> Iterable[str]:
    """Buckets enforce public access prevention and uniform bucket-level access."""
    if resource.type != BUCKET:
        return
    if resource.inputs.get("publicAccessPrevention") != "enforced":
        yield "public access prevention is not enforced"
    if resource.inputs.get("uniformBucketLevelAccess") is not True:
        yield "uniform bucket-level access is off"


def no_service_account_keys(resource: Registered) -> Iterable[str]:
    """Keys are long-lived secrets; trials get short-lived tokens as their service account."""
    if resource.type in KEYS:
        yield "creates a long-lived key"


def act_as_on_account_only(resource: Registered) -> Iterable[str]:
    """serviceAccountUser at project level would let its holder act as every account in the project."""
    if ABOVE_ACCOUNT_IAM.match(resource.type) and ACT_AS in _strings(resource.inputs):
        yield f"grants {ACT_AS} above the service account (grant it on the trainer account only)"


def images_by_digest(resource: Registered) -> Iterable[str]:
    """An image a job runs is pinned by digest, so a trial runs exactly what was built."""
    yield from _image_refs(resource.inputs)


def _image_refs(values: Mapping[str, Any]) -> Iterator[str]:
    for key, value in _items(values):
        if IMAGE_KEY.search(key) and isinstance(value, str) and not DIGEST_REF.match(value):
            yield f"{key} {value!r} is not a reference by digest (…@sha256:<64 hex>)"


RULES: tuple[Callable[[Registered], Iterable[str]], ...] = (
    no_primitive_roles, no_public_members, buckets_locked_down, no_service_account_keys,
    act_as_on_account_only, images_by_digest,
)


def check(resources: Iterable[Registered], outputs: Mapping[str, Any] | None = None) -> list[Violation]:
    """Every violation of every rule in the graph and its resolved stack outputs; empty when clean."""
    violations = [Violation(rule.__name__, f"{resource.type} {resource.name}", message)
                  for resource in resources for rule in RULES for message in rule(resource)]
    violations += [Violation(images_by_digest.__name__, "outputs", message)
                   for message in _image_refs(outputs or {})]
    return violations
