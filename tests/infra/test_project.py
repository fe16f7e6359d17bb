"""SweepsProject, resource by resource, through Pulumi mocks."""

from __future__ import annotations

import dataclasses

import pytest

from infra import policy
from infra.config import CiConfig, ConfigError, StackConfig
from infra.outputs import CI_EXTRAS, EXTRAS, Outputs
from infra.project import APIS, BUDGET_APIS
from jobs.cloud.stack import StackOutputs
from tests.support.cleanup import Version, deleted
from tests.support.pulumi_mocks import (
    ACCESS_TOKEN,
    PROJECT_NUMBER,
    SECRET_SIG,
    SIG_KEY,
    Deployment,
    deploy,
    project_outputs,
)

TRAINER = "serviceAccount:vision-trainer@acme-ml.iam.gserviceaccount.com"
TRAINER_NAME = "projects/acme-ml/serviceAccounts/vision-trainer@acme-ml.iam.gserviceaccount.com"
LABELS = {"team": "vision", "project": "acme-ml", "managed-by": "pulumi"}


@pytest.fixture
def deployed(config: StackConfig) -> Deployment:
    return deploy(lambda: project_outputs(config))


def grants(deployed: Deployment, member: str) -> set[tuple[str, str, str]]:
    """(resource type, role, what it is granted on) of every grant to ``member``."""
    return {(r.type.split(":")[1], r.inputs["role"],
             r.inputs.get("bucket") or r.inputs.get("repository") or r.inputs.get("serviceAccountId")
             or r.inputs["project"])
            for r in deployed.resources if r.inputs.get("member") == member}


def test_apis_enabled_and_left_on_when_destroyed(deployed):
    services = deployed.of_type("gcp:projects/service:Service")
    assert {s.inputs["service"] for s in services} == {f"{api}.googleapis.com" for api in APIS + BUDGET_APIS}
    assert all(s.inputs["project"] == "acme-ml" and s.inputs["disableOnDestroy"] is False for s in services)


def test_no_billing_apis_without_a_budget(config):
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"budget_amount": None,
                                                                         "billing_account": None})))
    services = {s.inputs["service"] for s in deployed.of_type("gcp:projects/service:Service")}
    assert services == {f"{api}.googleapis.com" for api in APIS}
    assert not deployed.of_type("gcp:billing/budget:Budget")


def test_bucket(deployed):
    (bucket,) = deployed.of_type("gcp:storage/bucket:Bucket")
    inputs = bucket.inputs
    assert inputs["name"] == "acme-ml-vision-sweeps" and inputs["project"] == "acme-ml"
    assert inputs["location"] == "EUROPE-WEST4"
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["softDeletePolicy"] == {"retentionDurationSeconds": 14 * 86400}
    assert inputs["versioning"] == {"enabled": True}
    assert inputs["labels"] == LABELS
    assert inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 3, "matchesPrefixes": ["staging/"]}},
        {"action": {"type": "Delete"}, "condition": {"age": 60, "matchesPrefixes": ["artifacts/"]}},
        {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"}},
    ]


def test_bucket_defaults_keep_artifacts_and_have_no_versions(config):
    plain = StackConfig.parse({"project": "acme-ml", "region": "europe-west4", "team": "vision"})
    deployed = deploy(lambda: project_outputs(plain))
    (bucket,) = deployed.of_type("gcp:storage/bucket:Bucket")
    assert bucket.inputs["versioning"] == {"enabled": False}
    assert bucket.inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 7, "matchesPrefixes": ["staging/"]}}]


def test_trainer_account_has_no_keys_and_only_its_two_grants(deployed):
    (account,) = deployed.of_type("gcp:serviceaccount/account:Account")
    assert account.inputs["accountId"] == "vision-trainer" and account.inputs["project"] == "acme-ml"
    assert not deployed.of_type("gcp:serviceaccount/key:Key")
    assert grants(deployed, TRAINER) == {
        ("storage/bucketIAMMember", "roles/storage.objectUser", "acme-ml-vision-sweeps"),
        ("projects/iAMMember", "roles/logging.logWriter", "acme-ml"),
    }


@pytest.mark.parametrize("member", ["user:ann@example.com", "group:vision@example.com"])
def test_launcher_grants(deployed, member):
    assert grants(deployed, member) == {
        ("projects/iAMMember", "roles/aiplatform.user", "acme-ml"),
        ("serviceaccount/iAMMember", "roles/iam.serviceAccountUser", TRAINER_NAME),
        ("storage/bucketIAMMember", "roles/storage.objectAdmin", "acme-ml-vision-sweeps"),
        ("artifactregistry/repositoryIamMember", "roles/artifactregistry.reader", "vision-sweeps"),
        ("artifactregistry/repositoryIamMember", "projects/acme-ml/roles/sweepsImageTagger_vision", "vision-sweeps"),
    }


def test_repository_keeps_the_newest_trainer_versions(deployed):
    (repository,) = deployed.of_type("gcp:artifactregistry/repository:Repository")
    inputs = repository.inputs
    assert (inputs["repositoryId"], inputs["format"], inputs["location"]) == ("vision-sweeps", "DOCKER",
                                                                              "europe-west4")
    assert inputs["cleanupPolicyDryRun"] is False
    runs, keep, delete = inputs["cleanupPolicies"]
    assert runs["action"] == "KEEP"
    assert runs["condition"] == {"tagState": "TAGGED", "tagPrefixes": ["run-"], "packageNamePrefixes": ["trainer"]}
    assert keep["action"] == "KEEP"
    assert keep["mostRecentVersions"] == {"keepCount": 3, "packageNamePrefixes": ["trainer"]}
    assert delete["action"] == "DELETE"
    assert delete["condition"] == {"tagState": "ANY", "packageNamePrefixes": ["trainer"]}


def test_cleanup_never_deletes_an_image_a_run_is_tagged_on(deployed):
    """Evaluated as Artifact Registry documents its policies (tests/support/cleanup.py): the 3 newest of each
    image stay, an old version a run still refers to stays, the other old ones go."""
    (repository,) = deployed.of_type("gcp:artifactregistry/repository:Repository")
    versions = [Version("trainer", f"sha256:{age}", age, ("latest",) if age == 0 else ()) for age in range(8)]
    versions[6] = Version("trainer", "sha256:6", 6, ("run-titanic-nn-20261001-120000",))
    versions.append(Version("trainer-cuda", "sha256:c9", 9, ()))
    assert deleted(repository.inputs["cleanupPolicies"], versions) == {"sha256:3", "sha256:4", "sha256:5", "sha256:7"}
    untagged = [v if v.digest != "sha256:6" else Version("trainer", "sha256:6", 6) for v in versions]
    assert "sha256:6" in deleted(repository.inputs["cleanupPolicies"], untagged)  # the tag is what keeps it


def test_launchers_may_tag_images_and_nothing_more(deployed):
    """The tagger role (granted on the repository only, see test_launcher_grants) creates and reads tags."""
    (role,) = deployed.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert role.inputs["permissions"] == ["artifactregistry.tags.create", "artifactregistry.tags.get",
                                          "artifactregistry.tags.list"]
    assert role.inputs["roleId"] == "sweepsImageTagger_vision"


def test_nothing_is_granted_to_service_agents_that_may_not_exist_yet(deployed):
    """Same-project images need no grant, and the custom code agent appears only on first use: a grant to it
    fails a first `pulumi up` on a new project. The mocks answer no getProject invoke, so the program
    cannot read the project number through the API it enables."""
    members = {r.inputs.get("member") for r in deployed.resources if "member" in r.inputs}
    assert not [m for m in members if "gcp-sa-aiplatform" in str(m)]
    assert not deployed.of_type("gcp:projects/serviceIdentity:ServiceIdentity")


def test_a_budget_needs_the_project_number(config):
    with pytest.raises(ConfigError, match="a budget needs projectNumber"):
        StackConfig.parse({**config.model_dump(exclude={"project_number"})})


def test_image_built_pushed_and_referenced_by_digest(deployed):
    (image,) = deployed.of_type("docker-build:index:Image")
    inputs = image.inputs
    assert inputs["context"] == {"location": "."}
    assert inputs["dockerfile"] == {"location": "trainer/Dockerfile"}
    assert inputs["platforms"] == ["linux/amd64"] and inputs["push"] is True
    assert inputs["tags"] == ["europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer:latest"]
    registries = inputs["registries"]
    assert registries[SIG_KEY] == SECRET_SIG, "the registry password must stay secret"
    assert registries["value"] == [{"address": "europe-west4-docker.pkg.dev", "username": "oauth2accesstoken",
                                    "password": ACCESS_TOKEN}]
    assert deployed.outputs["image"].startswith(
        "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer@sha256:")


def test_existing_image_is_used_instead_of_building(config):
    existing = "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer@sha256:" + "ab" * 32
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"trainer_image": existing})))
    assert not deployed.of_type("docker-build:index:Image")
    assert deployed.outputs["image"] == existing


def test_a_stack_without_docker_builds_no_image_and_offers_the_package_route(config):
    from jobs.cloud.stack import StackOutputs

    deployed = deploy(lambda: project_outputs(config.model_copy(update={"build_image": False})))
    assert not deployed.of_type("docker-build:index:Image")
    assert "image" not in deployed.outputs and deployed.outputs["routes"] == ["package"]
    assert StackOutputs.parse(dict(deployed.outputs), "outputs").routes == ("package",)
    assert policy.check(deployed.resources, deployed.outputs) == []
    with pytest.raises(ConfigError, match="buildImage false builds none"):
        StackConfig.parse({**config.model_dump(), "build_image": False, "cuda_image": True})


def test_a_cuda_image_is_built_with_cuda_torch_when_asked(config):
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"cuda_image": True})))
    images = {r.name: r.inputs for r in deployed.of_type("docker-build:index:Image")}
    cuda = images["vision-acme-ml-trainer-cuda-image"]
    assert cuda["buildArgs"] == {"TORCH_INDEX_URL": "https://pypi.org/simple"}
    assert cuda["tags"] == ["europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda:latest"]
    assert "buildArgs" not in images["vision-acme-ml-trainer-image"]
    assert deployed.outputs["cuda_image"].startswith(
        "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@sha256:")
    assert policy.check(deployed.resources, deployed.outputs) == []
    plain = deploy(lambda: project_outputs(config))
    assert "cuda_image" not in plain.outputs and len(plain.of_type("docker-build:index:Image")) == 1


def test_the_program_exports_exactly_what_a_sweep_reads_plus_the_documented_extras(config):
    """One definition (infra/outputs.py): a stack with every output exports each output StackOutputs reads, and
    nothing else but EXTRAS; a sweep reads them back whole."""
    every = config.model_copy(update={"cuda_image": True, "ci": CiConfig(repository="acme/vision")})
    deployed = deploy(lambda: project_outputs(every))
    assert set(deployed.outputs) == {f.name for f in dataclasses.fields(StackOutputs) if f.name != "source"} | set(
        EXTRAS) | set(CI_EXTRAS)
    read = StackOutputs.parse(dict(deployed.outputs), "outputs")
    assert {name: getattr(read, name) for name in Outputs.names()} == {
        name: deployed.outputs[name] for name in Outputs.names()}


def test_an_existing_cuda_image_can_be_named(config):
    existing = "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@sha256:" + "cd" * 32
    deployed = deploy(lambda: project_outputs(config.model_copy(update={"trainer_cuda_image": existing})))
    assert deployed.outputs["cuda_image"] == existing and len(deployed.of_type("docker-build:index:Image")) == 1


def test_budget(deployed):
    (budget,) = deployed.of_type("gcp:billing/budget:Budget")
    inputs = budget.inputs
    assert inputs["billingAccount"] == "012345-6789AB-CDEF01"
    assert inputs["amount"] == {"specifiedAmount": {"units": "500"}}
    assert inputs["budgetFilter"] == {"projects": [f"projects/{PROJECT_NUMBER}"], "calendarPeriod": "MONTH"}
    assert [rule["thresholdPercent"] for rule in inputs["thresholdRules"]] == [0.5, 0.9, 1.0]


def test_outputs(deployed):
    outputs = dict(deployed.outputs)
    assert outputs.pop("image").split("@")[0] == "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer"
    assert outputs == {
        "project": "acme-ml",
        "region": "europe-west4",
        "bucket": "acme-ml-vision-sweeps",
        "data_root": "gs://acme-ml-vision-sweeps/data",
        "artifacts_root": "gs://acme-ml-vision-sweeps/artifacts",
        "staging": "gs://acme-ml-vision-sweeps/staging",
        "trainer_service_account": "vision-trainer@acme-ml.iam.gserviceaccount.com",
        "team": "vision",
        "repository": "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps",
        "routes": ["image", "package"],
    }


def test_every_resource_is_a_child_named_after_the_project(deployed):
    (component,) = deployed.of_type("sweeps:infra:Project")
    assert component.name == "vision-acme-ml"
    children = [urn for urn in deployed.urns if not urn.endswith("::vision-acme-ml")]
    assert len(children) == len(deployed.resources) - 1
    assert all("::sweeps:infra:Project$" in urn and urn.split("::")[-1].startswith("vision-acme-ml-")
               for urn in children)
