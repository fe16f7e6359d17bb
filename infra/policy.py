"""Policy rules over a whole resource graph: what no stack may deploy, whatever the program or its config says.

A rule looks at one registered resource (its type token, name and inputs as the engine sends them: camelCase
keys, secrets wrapped) and yields what is wrong with it. Each rule has a name and a level: ``mandatory`` (a
violation stops ``pulumi up``) or ``advisory`` (reported; a stack may relax it with ``sweeps:relaxedPolicies``).
This module is the rules' one home: the Pulumi policy pack (infra/policypack, run by ``pulumi preview|up
--policy-pack``) calls them, and :func:`check` runs them offline over a mocked program in the tests. It imports
nothing outside the standard library, so the pack's own virtual environment needs only pulumi-policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

BUCKET = "gcp:storage/bucket:Bucket"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
STACK = "pulumi:pulumi:Stack"  # the root resource; its outputs are the stack's outputs
KEYS = ("gcp:serviceaccount/key:Key", "gcp:storage/hmacKey:HmacKey")
WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
# What an attribute condition may refer to: "assertion", "google" and "attribute" (attribute_condition, IAM v1
# WorkloadIdentityPoolProvider); Google refuses a condition that "must reference one of the provider's claims".
# CEL (https://github.com/google/cel-spec/blob/master/doc/langdef.md): string literals, `//` comments, and a claim
# compared to a literal with ==, on either side, in no longer comparison
CEL_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'" + r'|"(?:[^"\\\n]|\\.)*"')
CEL_COMMENT = re.compile(r"//[^\n]*")
CLAIM = r"(?:assertion|attribute|google)\.[A-Za-z_][\w.]*"
PINNED = re.compile(rf"{CLAIM}==''|''=={CLAIM}")  # a whole operand of && (the condition without whitespace)
ABOVE_ACCOUNT_IAM = re.compile(r"^gcp:(projects|folder|organizations)/iAM(Member|Binding|Policy):")
PRIMITIVE_ROLE = re.compile(r"\broles/(owner|editor|viewer)\b")
PUBLIC_MEMBER = re.compile(r"\ball(Authenticated)?Users\b")
ACT_AS = "roles/iam.serviceAccountUser"
IMAGE_KEY = re.compile(r"image(uri)?$", re.IGNORECASE)
DIGEST_REF = re.compile(r"[a-z0-9.-]+(?::[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}")
LABELS = ("team", "project")  # who owns a resource and what it serves: billing reports group by them
STAGING = "staging/"
Level = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Registered:
    """One resource as registered with the engine."""

    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Settings:
    """What a platform team may set per rule (the pack's policy config; Pulumi.example.yaml shows how)."""

    allowed_regions: tuple[str, ...] = ()  # empty: any region


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
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # lists, and the pack's list proxies
        for item in value:
            yield from _items(item)


def _strings(inputs: Mapping[str, Any]) -> set[str]:
    return {item for _, item in _items(inputs) if isinstance(item, str)}


def no_primitive_roles(resource: Registered, settings: Settings) -> Iterable[str]:
    """Owner, Editor and Viewer grant far more than anything here needs."""
    for role in sorted({m.group(0) for s in _strings(resource.inputs) for m in PRIMITIVE_ROLE.finditer(s)}):
        yield f"grants the primitive role {role}"


def no_public_members(resource: Registered, settings: Settings) -> Iterable[str]:
    """Nothing is granted to allUsers or allAuthenticatedUsers."""
    for member in sorted({m.group(0) for s in _strings(resource.inputs) for m in PUBLIC_MEMBER.finditer(s)}):
        yield f"grants access to {member}"


def buckets_locked_down(resource: Registered, settings: Settings) -> Iterable[str]:
    """Buckets enforce public access prevention and uniform bucket-level access."""
    if resource.type != BUCKET:
        return
    if resource.inputs.get("publicAccessPrevention") != "enforced":
        yield "public access prevention is not enforced"
    if resource.inputs.get("uniformBucketLevelAccess") is not True:
        yield "uniform bucket-level access is off"


def no_service_account_keys(resource: Registered, settings: Settings) -> Iterable[str]:
    """Keys are long-lived secrets; trials get short-lived tokens as their service account."""
    if resource.type in KEYS:
        yield "creates a long-lived key"


def identity_providers_conditioned(resource: Registered, settings: Settings) -> Iterable[str]:
    """A workload identity provider admits only the tokens its attribute condition names: an issuer such as GitHub's is
    shared by every repository, so without one any repository's workflow could act as the CI account."""
    if resource.type != WIF_PROVIDER:
        return
    condition = resource.inputs.get("attributeCondition")
    if not isinstance(condition, str) or not condition.strip():
        yield ("has no attribute condition: restrict it to your repository (sweeps:ci does: "
               "assertion.repository == 'OWNER/NAME')")
    elif not _pins_every_branch(condition):
        yield (f"attribute condition {condition!r} does not pin a claim to a value in every branch "
               "(e.g. assertion.repository == 'OWNER/NAME'; each part joined by || needs one)")


def _pins_every_branch(condition: str) -> bool:
    """Whether every branch of the condition's ``||`` has, among the operands its ``&&`` joins, a claim
    (assertion.*, attribute.*, google.*) compared to a string with == and nothing else, once strings are set aside
    and comments dropped. Anything else refuses it: ``true || assertion.sub == 'x'``, ``assertion.sub != ''``,
    ``true // assertion.repository``, and a pinned claim inside a larger expression (``!(...)``, ``(...) ==
    false``, ``[...][0]``, ``? :``), each of which can admit any repository. Conservative: some safe conditions (a
    claim in a list, startsWith alone) are refused too."""
    code = re.sub(r"\s+", "", CEL_COMMENT.sub("", CEL_STRING.sub("''", condition)))
    try:
        tokens = _boolean_tokens(code)
        pinned = _disjunction(tokens)
        return not tokens and pinned
    except (ValueError, RecursionError):  # not a condition this reads, or nested past Python's stack
        return False


def _boolean_tokens(code: str) -> list[str]:
    """``(``, ``)``, ``&&``, ``||`` and the operands between them; a call's parentheses (``f(...)``) stay inside its
    operand. ValueError for unbalanced parentheses."""
    tokens, operand, i = [], "", 0
    while i < len(code):
        op = code[i:i + 2] if code[i:i + 2] in ("&&", "||") else code[i]
        if op == "(" and operand[-1:].isidentifier():  # a call: its arguments, to the matching parenthesis
            end = _closing(code, i) + 1
            operand, i = operand + code[i:end], end
        elif op in ("&&", "||", "(", ")"):
            tokens += [operand, op] if operand else [op]
            operand, i = "", i + len(op)
        else:
            operand, i = operand + op, i + 1
    return [*tokens, operand] if operand else tokens


def _closing(code: str, start: int) -> int:
    """Where the parenthesis opened at ``start`` closes; ValueError when it does not."""
    depth = 0
    for i in range(start, len(code)):
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        if depth == 0:
            return i
    raise ValueError("unbalanced")


def _disjunction(tokens: list[str]) -> bool:
    """Consumes ``a || b || ...`` from ``tokens``: whether every branch pins a claim."""
    pinned = _conjunction(tokens)
    while tokens[:1] == ["||"]:
        tokens.pop(0)
        pinned = _conjunction(tokens) and pinned
    return pinned


def _conjunction(tokens: list[str]) -> bool:
    """Consumes ``a && b && ...``: whether one of its operands pins a claim."""
    pinned = _operand(tokens)
    while tokens[:1] == ["&&"]:
        tokens.pop(0)
        pinned = _operand(tokens) or pinned
    return pinned


def _operand(tokens: list[str]) -> bool:
    if not tokens or tokens[0] in ("&&", "||", ")"):
        raise ValueError("an operator without an operand")
    token = tokens.pop(0)
    if token != "(":
        return bool(PINNED.fullmatch(token))
    pinned = _disjunction(tokens)
    if tokens[:1] != [")"]:
        raise ValueError("unbalanced")
    tokens.pop(0)
    return pinned


def act_as_on_account_only(resource: Registered, settings: Settings) -> Iterable[str]:
    """serviceAccountUser at project level would let its holder act as every account in the project."""
    if ABOVE_ACCOUNT_IAM.match(resource.type) and ACT_AS in _strings(resource.inputs):
        yield f"grants {ACT_AS} above the service account (grant it on the trainer account only)"


def images_by_digest(resource: Registered, settings: Settings) -> Iterable[str]:
    """An image a job runs is pinned by digest, so a trial runs exactly what was built."""
    yield from _image_refs(resource.inputs)


def _image_refs(values: Mapping[str, Any]) -> Iterator[str]:
    for key, value in _items(values):
        if IMAGE_KEY.search(key) and isinstance(value, str) and not DIGEST_REF.fullmatch(value):
            yield f"{key} {value!r} is not a reference by digest (…@sha256:<64 hex>)"


def labels_present(resource: Registered, settings: Settings) -> Iterable[str]:
    """Buckets and repositories carry the team and project labels, so their costs can be told apart."""
    if resource.type in (BUCKET, REPOSITORY):
        labels = resource.inputs.get("labels") or {}
        missing = [label for label in LABELS if not labels.get(label)]
        if missing:
            yield f"has no {' or '.join(missing)} label"


def regions_allowed(resource: Registered, settings: Settings) -> Iterable[str]:
    """Buckets and repositories stay in the regions the platform allows (allowedRegions; empty: any)."""
    if settings.allowed_regions and resource.type in (BUCKET, REPOSITORY):
        location = str(resource.inputs.get("location", ""))
        if location.lower() not in {region.lower() for region in settings.allowed_regions}:
            allowed = ", ".join(settings.allowed_regions)
            yield f"is in {location or 'no location'}, outside the allowed regions {allowed}"


def staging_expires(resource: Registered, settings: Settings) -> Iterable[str]:
    """A bucket deletes what runs stage under staging/ (trainer packages, scratch files) after some days."""
    if resource.type != BUCKET:
        return
    for rule in resource.inputs.get("lifecycleRules") or []:
        action, condition = rule.get("action") or {}, rule.get("condition") or {}
        if action.get("type") == "Delete" and STAGING in (condition.get("matchesPrefixes") or []) \
                and condition.get("age"):
            return
    yield f"keeps {STAGING} forever: add a lifecycle rule deleting it after some days (sweeps:stagingRetentionDays)"


@dataclass(frozen=True)
class Rule:
    """A rule of the pack: its policy name, level and check; the check's docstring says why it exists."""

    name: str
    level: Level
    check: Callable[[Registered, Settings], Iterable[str]] = field(repr=False)

    @property
    def description(self) -> str:
        return " ".join((self.check.__doc__ or "").split())


RULES: tuple[Rule, ...] = (
    Rule("no-primitive-roles", "mandatory", no_primitive_roles),
    Rule("no-public-members", "mandatory", no_public_members),
    Rule("buckets-locked-down", "mandatory", buckets_locked_down),
    Rule("no-service-account-keys", "mandatory", no_service_account_keys),
    Rule("act-as-on-account-only", "mandatory", act_as_on_account_only),
    Rule("identity-providers-conditioned", "mandatory", identity_providers_conditioned),
    Rule("images-by-digest", "mandatory", images_by_digest),
    Rule("labels-present", "advisory", labels_present),
    Rule("regions-allowed", "advisory", regions_allowed),
    Rule("staging-expires", "advisory", staging_expires),
)
OUTPUTS_RULE = "stack-outputs-by-digest"  # images_by_digest over the stack's outputs (the pack: a stack policy)
ADVISORY = frozenset(rule.name for rule in RULES if rule.level == "advisory")
MANDATORY = frozenset(rule.name for rule in RULES if rule.level == "mandatory") | {OUTPUTS_RULE}


def output_violations(outputs: Mapping[str, Any]) -> list[str]:
    """What is wrong with the image references among the stack's outputs."""
    return list(_image_refs(outputs))


def check(resources: Iterable[Registered], outputs: Mapping[str, Any] | None = None,
          settings: Settings = Settings(), relaxed: Iterable[str] = ()) -> list[Violation]:
    """Every violation of every rule not ``relaxed`` in the graph and its resolved stack outputs; empty when clean."""
    off = set(relaxed)
    rules = [rule for rule in RULES if rule.name not in off]
    violations = [Violation(rule.name, f"{resource.type} {resource.name}", message)
                  for resource in resources for rule in rules for message in rule.check(resource, settings)]
    violations += [Violation(OUTPUTS_RULE, "outputs", message) for message in output_violations(outputs or {})]
    return violations
