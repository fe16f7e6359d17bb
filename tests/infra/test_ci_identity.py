"""Keyless CI (sweeps:ci) through Pulumi mocks: a pool, a GitHub provider restricted to the repository, and an
account the repository may impersonate, holding exactly the launchers' rights and no key."""

from __future__ import annotations

import pytest

from infra import policy
from infra.ci_identity import attribute_condition
from infra.config import CiConfig, StackConfig
from infra.project import APIS, BUDGET_APIS
from jobs.cloud.stack import StackOutputs
from tests.infra.test_project import TRAINER_NAME, grants
from tests.support.pulumi_mocks import PROJECT_NUMBER, WIF_POOL, Deployment, deploy, project_outputs

REPOSITORY = "acme/vision-sweeps"
CI_EMAIL = "vision-github@acme-ml.iam.gserviceaccount.com"
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/sweeps-vision"


def with_ci(config: StackConfig, **ci: str) -> StackConfig:
    return config.model_copy(update={"ci": CiConfig(repository=REPOSITORY, **ci)})


@pytest.fixture
def deployed(config: StackConfig) -> Deployment:
    return deploy(lambda: project_outputs(with_ci(config, branch="main")))


def test_the_pool_and_its_github_provider_admit_the_repository_only(deployed):
    (pool,) = deployed.of_type(WIF_POOL)
    assert (pool.inputs["workloadIdentityPoolId"], pool.inputs["project"]) == ("sweeps-vision", "acme-ml")
    assert len(pool.inputs["displayName"]) <= 32
    (provider,) = deployed.of_type(policy.WIF_PROVIDER)
    inputs = provider.inputs
    assert (inputs["workloadIdentityPoolId"], inputs["workloadIdentityPoolProviderId"]) == ("sweeps-vision", "github")
    assert inputs["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
    assert inputs["attributeMapping"]["google.subject"] == "assertion.sub"
    assert inputs["attributeMapping"]["attribute.repository"] == "assertion.repository"
    assert inputs["attributeCondition"] == ("assertion.repository == 'acme/vision-sweeps' && "
                                            "assertion.ref == 'refs/heads/main'")
    services = {s.inputs["service"] for s in deployed.of_type("gcp:projects/service:Service")}
    assert services == {f"{api}.googleapis.com" for api in (*APIS, *BUDGET_APIS, "sts")}


def test_the_repository_impersonates_a_keyless_account_with_the_launchers_rights(deployed):
    member = f"principalSet://iam.googleapis.com/{POOL}/attribute.repository/{REPOSITORY}"
    ci_name = f"projects/acme-ml/serviceAccounts/{CI_EMAIL}"
    assert grants(deployed, member) == {("serviceaccount/iAMMember", "roles/iam.workloadIdentityUser", ci_name)}
    ci_grants = grants(deployed, f"serviceAccount:{CI_EMAIL}")
    assert ci_grants == grants(deployed, "user:ann@example.com")  # what a launcher has, nothing more
    assert ("serviceaccount/iAMMember", "roles/iam.serviceAccountUser", TRAINER_NAME) in ci_grants
    assert not deployed.of_type("gcp:serviceaccount/key:Key")


def test_the_outputs_name_what_a_workflow_authenticates_with(deployed):
    assert deployed.outputs["ci_workload_identity_provider"] == f"{POOL}/providers/github"
    assert deployed.outputs["ci_service_account"] == CI_EMAIL
    assert StackOutputs.parse(dict(deployed.outputs), "outputs").project == "acme-ml"  # a sweep still reads them


def test_the_stack_passes_every_policy(deployed):
    assert policy.check(deployed.resources, deployed.outputs) == []


def test_a_ci_account_without_other_launchers_still_gets_the_tagger_role(config):
    deployed = deploy(lambda: project_outputs(with_ci(config.model_copy(update={"launchers": []}))))
    (role,) = deployed.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert ("artifactregistry/repositoryIamMember", "projects/acme-ml/roles/sweepsImageTagger_vision",
            "vision-sweeps") in grants(deployed, f"serviceAccount:{CI_EMAIL}")
    assert role.inputs["roleId"] == "sweepsImageTagger_vision"


def test_without_ci_nothing_is_federated(config):
    deployed = deploy(lambda: project_outputs(config))
    assert not deployed.of_type(WIF_POOL) and not deployed.of_type(policy.WIF_PROVIDER)
    assert not {"ci_workload_identity_provider", "ci_service_account"} & set(deployed.outputs)


@pytest.mark.parametrize("ci, condition", [
    ({}, "assertion.repository == 'acme/vision-sweeps'"),
    ({"repository_id": 260064828, "branch": "release/v2"},
     "assertion.repository == 'acme/vision-sweeps' && assertion.repository_id == '260064828' && "
     "assertion.ref == 'refs/heads/release/v2'"),
])
def test_the_condition_names_the_repository_and_what_else_is_set(ci, condition):
    assert attribute_condition(CiConfig(repository=REPOSITORY, **ci)) == condition
