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
from tests.infra.conftest import deploy, project_outputs

EVE = "user:eve@example.com"
TRAINER_NAME = "projects/acme-ml/serviceAccounts/vision-trainer@acme-ml.iam.gserviceaccount.com"
BY_TAG = "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer:latest"


class TrainingJob(pulumi.CustomResource):
    """A stand-in for a job that runs an image (Vertex's CustomJob shape; pulumi-gcp has no such resource)."""

    def __init__(self, name: str, image_uri: str) -> None:
        super().__init__("sweeps:test:TrainingJob", name,
                         {"workerPoolSpecs": [{"containerSpec": {"imageUri": image_uri}}]})


def primitive_role_in_a_policy() -> None:
    policy_data = json.dumps({"bindings": [{"role": "roles/owner", "members": [EVE]}]})
    gcp.projects.IAMPolicy("bad", project="acme-ml", policy_data=policy_data)


BAD: dict[str, tuple[str, Callable[[], Any]]] = {
    "editor on the project": ("no_primitive_roles", lambda: gcp.projects.IAMMember(
        "bad", project="acme-ml", role="roles/editor", member=EVE)),
    "owner inside a policy document": ("no_primitive_roles", primitive_role_in_a_policy),
    "bucket objects to allUsers": ("no_public_members", lambda: gcp.storage.BucketIAMMember(
        "bad", bucket="acme-ml-vision-sweeps", role="roles/storage.objectViewer", member="allUsers")),
    "images to allAuthenticatedUsers": ("no_public_members", lambda: gcp.artifactregistry.RepositoryIamMember(
        "bad", repository="vision-sweeps", role="roles/artifactregistry.reader", member="allAuthenticatedUsers")),
    "bucket with defaults": ("buckets_locked_down", lambda: gcp.storage.Bucket("bad", location="EU")),
    "bucket with inherited public access": ("buckets_locked_down", lambda: gcp.storage.Bucket(
        "bad", location="EU", uniform_bucket_level_access=True, public_access_prevention="inherited")),
    "service account key": ("no_service_account_keys", lambda: gcp.serviceaccount.Key(
        "bad", service_account_id=TRAINER_NAME)),
    "HMAC key": ("no_service_account_keys", lambda: gcp.storage.HmacKey(
        "bad", service_account_email="vision-trainer@acme-ml.iam.gserviceaccount.com")),
    "act-as on the project": ("act_as_on_account_only", lambda: gcp.projects.IAMMember(
        "bad", project="acme-ml", role="roles/iam.serviceAccountUser", member=EVE)),
    "a job running an image by tag": ("images_by_digest", lambda: TrainingJob("bad", BY_TAG)),
}


def good_graph_plus(config: StackConfig, add_bad: Callable[[], Any]) -> list[policy.Violation]:
    def program() -> Any:
        outputs = project_outputs(config)
        add_bad()
        return outputs

    deployed = deploy(program)
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
    assert (violation.rule, violation.subject) == ("images_by_digest", "outputs")
    assert BY_TAG in str(violation)


def test_act_as_on_the_trainer_account_is_allowed():
    granted = policy.Registered("gcp:serviceaccount/iAMMember:IAMMember", "ok",
                                {"serviceAccountId": TRAINER_NAME, "role": "roles/iam.serviceAccountUser",
                                 "member": EVE})
    assert policy.check([granted]) == []
