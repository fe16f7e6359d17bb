"""The sweeps policy pack: infra/policy.py's rules as Pulumi CrossGuard policies.

Pulumi starts this file (``python -u -m pulumi.policy ENGINE infra/policypack``) as its own process and asks it,
over its gRPC Analyzer service, about every resource (Analyze: the checked inputs) and then the whole stack
(AnalyzeStack: outputs). Each rule is a resource policy at the rule's level; the image references among the
stack's outputs are a stack policy on the root stack resource. A stack relaxes advisory rules with
``sweeps:relaxedPolicies`` (its config reaches the pack in PULUMI_CONFIG); a platform team restricts regions with
``{"regions-allowed": {"allowedRegions": [...]}}`` in a ``--policy-pack-config`` file (infra/policypack/config.json
when present, which invoke infra.* passes). That file may also set levels, and the engine takes each violation's
level from the diagnostic the pack returns: so the pack keeps a mandatory policy mandatory whatever level
Configure asks for, and says so on stderr. Nothing may print to stdout before the pack does: its first line
there is the port.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: infra.policy needs only the stdlib

from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy import policy as library

from infra import policy

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
REGIONS = PolicyConfigSchema(properties={"allowedRegions": {"type": "array", "items": {"type": "string"}}})
LOWER = {proto.ADVISORY: "advisory", proto.DISABLED: "disabled"}


class MandatoryStaysMandatory(library._PolicyAnalyzerServicer):
    """The library's Analyzer service, except that Configure cannot lower a mandatory policy. A config file sets
    levels with an ``all`` key and per-policy keys, as a string or ``{"enforcementLevel": ...}``
    (pulumi.com/docs/iac/using-pulumi/crossguard/configuration); the engine sends the result per policy."""

    def __init__(self, name, version, policies, *args, **kwargs) -> None:
        super().__init__(name, version, policies, *args, **kwargs)
        self.mandatory = {p.name for p in policies if p.enforcement_level == EnforcementLevel.MANDATORY}

    def Configure(self, request, context):
        kept = type(request)()
        kept.CopyFrom(request)
        for name in sorted(self.mandatory & set(kept.policyConfig)):
            asked = kept.policyConfig[name]
            if asked.enforcementLevel in LOWER:
                print(f"sweeps policy pack: {name} is mandatory; the policy pack config's level "
                      f"{LOWER[asked.enforcementLevel]!r} for it is ignored", file=sys.stderr)
                asked.enforcementLevel = proto.MANDATORY
        return super().Configure(kept, context)


library._PolicyAnalyzerServicer = MandatoryStaysMandatory  # the service PolicyPack(...) builds and serves


def relaxed() -> set[str]:
    """The advisory rules the stack being deployed relaxes (``sweeps:relaxedPolicies``; infra/config.py refuses
    a mandatory one, and so does this)."""
    value = json.loads(os.environ.get("PULUMI_CONFIG") or "{}").get("sweeps:relaxedPolicies") or "[]"
    return set(json.loads(value) if isinstance(value, str) else value) & policy.ADVISORY


def resource_policy(rule: policy.Rule, off: set[str]) -> ResourceValidationPolicy:
    def validate(args, report_violation) -> None:
        settings = policy.Settings(tuple(args.get_config().get("allowedRegions") or ()))
        for message in rule.check(policy.Registered(args.resource_type, args.name, args.props), settings):
            report_violation(message)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel.DISABLED if rule.name in off else LEVELS[rule.level],
        config_schema=REGIONS if rule.check is policy.regions_allowed else None)


def outputs_by_digest(args, report_violation) -> None:
    for resource in args.resources:
        if resource.resource_type == policy.STACK:
            for message in policy.output_violations(resource.props):
                report_violation(message, resource.urn)


OFF = relaxed()
PolicyPack(name="sweeps", enforcement_level=EnforcementLevel.MANDATORY, policies=[
    *(resource_policy(rule, OFF) for rule in policy.RULES),
    StackValidationPolicy(name=policy.OUTPUTS_RULE, description="Images among the stack outputs are pinned by digest.",
                          validate=outputs_by_digest, enforcement_level=EnforcementLevel.MANDATORY),
])
