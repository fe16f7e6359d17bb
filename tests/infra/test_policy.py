"""Policy rules over the whole registered graph: the good graph is clean, each bad resource is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest

from infra import policy
from infra.config import StackConfig
from tests.support.pulumi_mocks import deploy, project_outputs

EVE = "user:eve@example.com"
TRAINER_NAME = "projects/acme-ml/serviceAccounts/vision-trainer@acme-ml.iam.gserviceaccount.com"
BY_TAG = "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer:latest"


class TrainingJob(pulumi.CustomResource):
    """A stand-in for a job that runs an image (Vertex's CustomJob shape; pulumi-gcp has no such resource)."""

    def __init__(self, name: str, image_uri: str) -> None:
        super().__init__("sweeps:test:TrainingJob", name,
                         {"workerPoolSpecs": [{"containerSpec": {"imageUri": image_uri}}]})


def bucket(**changes: Any) -> gcp.storage.Bucket:
    """A bucket that passes every rule, but for ``changes``."""
    fields = {"location": "EUROPE-WEST4", "uniform_bucket_level_access": True, "public_access_prevention": "enforced",
              "labels": {"team": "vision", "project": "acme-ml"},
              "lifecycle_rules": [gcp.storage.BucketLifecycleRuleArgs(
                  action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                  condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=7, matches_prefixes=["staging/"]))]}
    return gcp.storage.Bucket("bad", **{k: v for k, v in (fields | changes).items() if v is not None})


def github_provider(condition: str | None) -> gcp.iam.WorkloadIdentityPoolProvider:
    """A GitHub Actions provider with this attribute condition (None: none)."""
    return gcp.iam.WorkloadIdentityPoolProvider(
        "bad", workload_identity_pool_id="sweeps-vision", workload_identity_pool_provider_id="github",
        attribute_mapping={"google.subject": "assertion.sub"}, attribute_condition=condition,
        oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri="https://token.actions.githubusercontent.com"))


def primitive_role_in_a_policy() -> None:
    policy_data = json.dumps({"bindings": [{"role": "roles/owner", "members": [EVE]}]})
    gcp.projects.IAMPolicy("bad", project="acme-ml", policy_data=policy_data)


BAD: dict[str, tuple[str, Callable[[], Any]]] = {
    "editor on the project": ("no-primitive-roles", lambda: gcp.projects.IAMMember(
        "bad", project="acme-ml", role="roles/editor", member=EVE)),
    "owner inside a policy document": ("no-primitive-roles", primitive_role_in_a_policy),
    "bucket objects to allUsers": ("no-public-members", lambda: gcp.storage.BucketIAMMember(
        "bad", bucket="acme-ml-vision-sweeps", role="roles/storage.objectViewer", member="allUsers")),
    "images to allAuthenticatedUsers": ("no-public-members", lambda: gcp.artifactregistry.RepositoryIamMember(
        "bad", repository="vision-sweeps", role="roles/artifactregistry.reader", member="allAuthenticatedUsers")),
    "bucket with defaults": ("buckets-locked-down", lambda: bucket(uniform_bucket_level_access=None,
                                                                   public_access_prevention=None)),
    "bucket with inherited public access": ("buckets-locked-down", lambda: bucket(
        public_access_prevention="inherited")),
    "bucket without a team label": ("labels-present", lambda: bucket(labels={"project": "acme-ml"})),
    "repository without labels": ("labels-present", lambda: gcp.artifactregistry.Repository(
        "bad", repository_id="x", location="europe-west4", format="DOCKER")),
    "bucket keeping staging forever": ("staging-expires", lambda: bucket(lifecycle_rules=[])),
    "service account key": ("no-service-account-keys", lambda: gcp.serviceaccount.Key(
        "bad", service_account_id=TRAINER_NAME)),
    "HMAC key": ("no-service-account-keys", lambda: gcp.storage.HmacKey(
        "bad", service_account_email="vision-trainer@acme-ml.iam.gserviceaccount.com")),
    "act-as on the project": ("act-as-on-account-only", lambda: gcp.projects.IAMMember(
        "bad", project="acme-ml", role="roles/iam.serviceAccountUser", member=EVE)),
    "a job running an image by tag": ("images-by-digest", lambda: TrainingJob("bad", BY_TAG)),
    "GitHub provider without a condition": ("identity-providers-conditioned", lambda: github_provider(None)),
    "GitHub provider with an empty condition": ("identity-providers-conditioned", lambda: github_provider(" ")),
    "GitHub provider admitting every token": ("identity-providers-conditioned", lambda: github_provider("true")),
}


def graph_with(config: StackConfig, add_bad: Callable[[], Any]):
    """The project's graph plus what ``add_bad`` declares, deployed under Pulumi's mocks."""
    def program() -> Any:
        outputs = project_outputs(config)
        add_bad()
        return outputs

    return deploy(program)


def good_graph_plus(config: StackConfig, add_bad: Callable[[], Any]) -> list[policy.Violation]:
    deployed = graph_with(config, add_bad)
    return policy.check(deployed.resources, deployed.outputs)


def test_the_good_graph_is_clean(config):
    deployed = deploy(lambda: project_outputs(config))
    assert policy.check(deployed.resources, deployed.outputs) == []


@pytest.mark.parametrize("case", BAD)
def test_each_rule_catches_its_bad_resource(config, case):
    rule, add_bad = BAD[case]
    violations = good_graph_plus(config, add_bad)
    assert violations, f"{rule} missed: {case}"
    assert {v.rule for v in violations} == {rule}
    assert all(v.subject.endswith(" bad") for v in violations), violations


def test_bucket_rule_names_both_faults(config):
    violations = good_graph_plus(config, BAD["bucket with defaults"][1])
    assert sorted(v.message for v in violations) == ["public access prevention is not enforced",
                                                      "uniform bucket-level access is off"]


def test_an_image_output_by_tag_is_caught(config):
    deployed = deploy(lambda: {**project_outputs(config), "image": BY_TAG})
    (violation,) = policy.check(deployed.resources, deployed.outputs)
    assert (violation.rule, violation.subject) == ("stack-outputs-by-digest", "outputs")
    assert BY_TAG in str(violation)


def test_regions_outside_the_allowed_ones_are_named_and_a_relaxed_rule_is_not_checked(config):
    deployed = deploy(lambda: project_outputs(config))
    assert policy.check(deployed.resources, deployed.outputs, policy.Settings(("europe-west4",))) == []
    violations = policy.check(deployed.resources, deployed.outputs, policy.Settings(("us-central1", "us-east1")))
    assert {v.subject for v in violations} == {"gcp:storage/bucket:Bucket vision-acme-ml-bucket",
                                               "gcp:artifactregistry/repository:Repository vision-acme-ml-repository"}
    assert {v.message for v in violations} == {"is in EUROPE-WEST4, outside the allowed regions us-central1, us-east1",
                                               "is in europe-west4, outside the allowed regions us-central1, us-east1"}
    assert policy.check(deployed.resources, deployed.outputs, policy.Settings(("us-central1",)),
                        relaxed=["regions-allowed"]) == []


def test_act_as_on_the_trainer_account_is_allowed():
    granted = policy.Registered("gcp:serviceaccount/iAMMember:IAMMember", "ok",
                                {"serviceAccountId": TRAINER_NAME, "role": "roles/iam.serviceAccountUser",
                                 "member": EVE})
    assert policy.check([granted]) == []


def conditioned(condition: str | None) -> list[str]:
    """What the identity provider rule says of a provider with this attribute condition (None: none)."""
    inputs = {} if condition is None else {"attributeCondition": condition}
    return list(policy.identity_providers_conditioned(policy.Registered(policy.WIF_PROVIDER, "github", inputs),
                                                      policy.Settings()))


@pytest.mark.parametrize("condition, says", [
    (None, "has no attribute condition: restrict it to your repository"),
    ("", "has no attribute condition"),
    ("1 == 1", "attribute condition '1 == 1' does not pin a claim to a value in every branch"),
    ("true || assertion.repository == 'acme/vision'", "does not pin a claim"),
    ("assertion.repository != ''", "does not pin a claim"),
    ("true // assertion.repository == 'acme/vision'", "does not pin a claim"),
    ("'assertion.repository' != ''", "does not pin a claim"),
    ("assertion.repository == assertion.repository", "does not pin a claim"),
    ("!(assertion.repository == 'acme/vision')", "does not pin a claim"),
    ("assertion.repository == 'acme/vision' ? true : true", "does not pin a claim"),
    ("assertion.repository ==  'acme/vision' == false", "does not pin a claim"),
    ("false == assertion.repository == 'acme/vision'", "does not pin a claim"),
    ("(assertion.repository == 'acme/vision') == false", "does not pin a claim"),
    ("[assertion.repository == 'acme/vision'][0] == false", "does not pin a claim"),
    ("(assertion.repository == 'acme/vision') in [false]", "does not pin a claim"),
    ("f(assertion.repository == 'acme/vision')", "does not pin a claim"),
    ("assertion.repository == 'acme/vision' || (true)", "does not pin a claim"),
    ("(assertion.repository == 'acme/vision'", "does not pin a claim"),
    ("assertion.repository == 'acme/vision' &&", "does not pin a claim"),
    ("(" * 5000 + "assertion.repository == 'acme/vision'" + ")" * 5000, "does not pin a claim"),
])
def test_a_provider_without_a_condition_on_its_claims_is_refused(condition, says):
    (message,) = conditioned(condition)
    assert says in message


@pytest.mark.parametrize("condition", [
    "assertion.repository == 'acme/vision'", "attribute.repository_owner == 'acme'",
    "assertion.repository == 'acme/a' || assertion.repository == 'acme/b'",
    "assertion.repository == 'acme/vision' && (assertion.ref == 'refs/heads/main' || assertion.ref == 'refs/heads/x')",
    "assertion.repository == 'acme/vision' && assertion.ref.startsWith('refs/heads/')",
    "('acme/vision' == assertion.repository) && assertion.event_name != 'pull_request_target'"])
def test_a_provider_with_a_condition_on_its_claims_passes(condition):
    assert conditioned(condition) == []
