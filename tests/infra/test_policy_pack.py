"""The policy pack (infra/policypack) as Pulumi runs it: its own process and environment, spoken to over gRPC
(tests/support/analyzer.py), fed the resources of the program run under mocks. The shipped example stack passes
every policy; each policy fires on a graph that breaks it, at its level; a stack relaxes an advisory one and
only an advisory one."""

from __future__ import annotations

import pytest

from infra import policy
from infra.config import CiConfig
from tests.infra.test_policy import BAD, BY_TAG, graph_with
from tests.support.analyzer import PolicyPackProcess
from tests.support.pulumi_mocks import CLOUD_BUILD_IMAGE, deploy, project_outputs, run_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as running:
        yield running


def test_the_pack_declares_every_rule_at_its_level(pack):
    assert pack.info.name == "sweeps" and pack.info.supportsConfig
    assert pack.levels() == {**{rule.name: rule.level for rule in policy.RULES}, policy.OUTPUTS_RULE: "mandatory"}


def test_the_shipped_example_stack_passes_every_policy(pack, example_keys, monkeypatch):
    deployed = deploy(run_main(example_keys, monkeypatch), stack="ml-research-my-ml-project")
    assert pack.analyze(deployed) == []


def test_a_stack_built_on_cloud_build_passes_every_policy(pack, config):
    """The builder account, its three grants, the Cloud Build API and both images built by the dynamic resource."""
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"image_builder": "cloudbuild",
                                                                        "cuda_image": True})))
    assert len(deployed.of_type(CLOUD_BUILD_IMAGE)) == 2
    assert pack.analyze(deployed) == []


def test_a_stack_with_keyless_ci_passes_every_policy(pack, config):
    """The pool, the GitHub provider with its condition, the CI account and its grants."""
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"ci": CiConfig(repository="acme/vision")})))
    assert len(deployed.of_type(policy.WIF_PROVIDER)) == 1
    assert pack.analyze(deployed) == []


@pytest.mark.parametrize("case", BAD)
def test_each_policy_fires_on_its_bad_resource(pack, config, case):
    rule = BAD[case][0]
    found = pack.analyze(graph_with(config, BAD[case][1]))
    level = next(r.level for r in policy.RULES if r.name == rule)
    assert found and {(d.policy, d.level) for d in found} == {(rule, level)}, found
    assert all(d.urn.endswith("::bad") for d in found), found


def test_an_image_output_by_tag_fails_the_stack_policy(pack, config):
    found = pack.analyze(deploy(lambda: {**project_outputs(config), "image": BY_TAG}))
    assert [(d.policy, d.level) for d in found] == [(policy.OUTPUTS_RULE, "mandatory")]
    assert BY_TAG in found[0].message and found[0].urn.endswith("pulumi:pulumi:Stack::sweeps-test")


def test_allowed_regions_come_from_the_pack_config(config):
    deployed = deploy(lambda: project_outputs(config))
    with PolicyPackProcess(pack_config={"regions-allowed": {"allowedRegions": ["us-central1"]}}) as pack:
        found = pack.analyze(deployed)
    assert {(d.policy, d.level) for d in found} == {("regions-allowed", "advisory")}
    assert {d.urn.rsplit("::", 1)[1] for d in found} == {"vision-acme-ml-bucket", "vision-acme-ml-repository"}


def test_a_stack_relaxes_an_advisory_policy_but_not_a_mandatory_one(config):
    relaxed = {"sweeps:relaxedPolicies": ["labels-present", "no-public-members"]}  # infra/config refuses the 2nd
    with PolicyPackProcess(stack_config=relaxed) as pack:
        assert pack.levels()["labels-present"] == "disabled"
        assert pack.levels()["no-public-members"] == "mandatory"
        assert pack.analyze(graph_with(config, BAD["bucket without a team label"][1])) == []
        found = pack.analyze(graph_with(config, BAD["bucket objects to allUsers"][1]))
    assert {(d.policy, d.level) for d in found} == {("no-public-members", "mandatory")}


@pytest.mark.parametrize("pack_config", [
    {"all": "disabled"}, {"all": "advisory"}, {"no-public-members": "disabled", "no-primitive-roles": "advisory"},
    {"all": {"enforcementLevel": "advisory"}},
], ids=lambda c: str(c))
def test_a_pack_config_cannot_lower_a_mandatory_policy(config, pack_config):
    with PolicyPackProcess(pack_config=pack_config) as pack:
        public = pack.analyze(graph_with(config, BAD["bucket objects to allUsers"][1]))
        editor = pack.analyze(graph_with(config, BAD["editor on the project"][1]))
        ignored = [line for line in pack.stderr().splitlines() if "is mandatory" in line]
    assert {(d.policy, d.level) for d in public} == {("no-public-members", "mandatory")}
    assert {(d.policy, d.level) for d in editor} == {("no-primitive-roles", "mandatory")}
    lowered = {name for name in policy.MANDATORY if name in pack_config or "all" in pack_config}
    assert len(ignored) == len(lowered) and all(any(name in line for line in ignored) for name in lowered), ignored


def test_a_pack_config_still_disables_an_advisory_policy(config):
    with PolicyPackProcess(pack_config={"labels-present": "disabled"}) as pack:
        assert pack.analyze(graph_with(config, BAD["bucket without a team label"][1])) == []
        assert pack.stderr() == ""
