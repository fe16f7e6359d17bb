"""Keyless CI for one stack (``sweeps:ci``): a Workload Identity Federation pool and a GitHub Actions provider in
the project, and a service account that the repository's workflows may impersonate, holding the launchers' rights
(granted by SweepsProject). No key is created: a workflow exchanges its GitHub OIDC token for a short-lived one.

Google's guide: cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines (GitHub Actions);
the resources: pulumi.com/registry/packages/gcp/api-docs/iam/workloadidentitypool and .../workloadidentitypoolprovider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.config import CiConfig, StackConfig

# "Enable the IAM, Resource Manager, Service Account Credentials, and Security Token Service APIs" (the guide's
# "Before you begin"); the first three are among the project's APIs already.
CI_APIS = ("sts",)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# The provider id: 4-32 of a-z, 0-9 and -, "gcp-" reserved (workload_identity_pool_provider_id); unique in its pool.
PROVIDER_ID = "github"
# The guide's mapping for GitHub Actions: google.subject (at most 127 characters) and the claims conditions and
# principal sets refer to.
GITHUB_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.repository_owner": "assertion.repository_owner",
    "attribute.ref": "assertion.ref",
}
# Impersonating the CI account: "grant the Workload Identity User role (roles/iam.workloadIdentityUser)" on it to
# the principal set of the repository (the guide's "Allow the external workload to impersonate the service account").
IMPERSONATE = "roles/iam.workloadIdentityUser"


@dataclass(frozen=True)
class CiIdentity:
    """What a team's workflow authenticates with (google-github-actions/auth's workload_identity_provider and
    service_account), and the account to grant the launchers' rights to."""

    account: gcp.serviceaccount.Account
    provider: gcp.iam.WorkloadIdentityPoolProvider

    @property
    def outputs(self) -> dict[str, pulumi.Output[str]]:
        """The stack outputs a team's CI is configured from."""
        return {"ci_workload_identity_provider": self.provider.name, "ci_service_account": self.account.email}


def attribute_condition(ci: CiConfig) -> str:
    """The provider's CEL condition: tokens of this repository only (and of its id and branch when given).

    GitHub's issuer is shared by every repository, so "you must use an attribute condition" (the guide's
    "Configure workload identity federation", GitHub Actions); the API refuses a GitHub provider without one
    ("The attribute condition must reference one of the provider's claims"). The values are checked by
    infra/config.py to hold no quote."""
    terms = [f"assertion.repository == '{ci.repository}'"]
    if ci.repository_id:
        terms.append(f"assertion.repository_id == '{ci.repository_id}'")
    if ci.branch:
        terms.append(f"assertion.ref == 'refs/heads/{ci.branch}'")
    return " && ".join(terms)


def provision(name: str, config: StackConfig, parent: pulumi.Resource,
              services: list[gcp.projects.Service]) -> CiIdentity:
    """The pool, its GitHub provider, and the CI account that the repository's principal set may impersonate (for a
    stack with ``sweeps:ci``)."""
    ci, names = config.ci, config.names
    opts = pulumi.ResourceOptions(parent=parent, depends_on=list(services))
    # Pool ids: 4-32 of a-z, 0-9 and -, "gcp-" reserved; a deleted pool's id is kept 30 days before it can be reused.
    pool = gcp.iam.WorkloadIdentityPool(
        f"{name}-ci-pool", workload_identity_pool_id=names.ci_pool_id, project=config.project,
        display_name=f"Sweeps CI {config.team}",  # at most 32 characters: a team has at most 22
        description=f"CI workflows that launch sweeps for {config.team}", opts=opts)
    provider = gcp.iam.WorkloadIdentityPoolProvider(
        f"{name}-ci-{PROVIDER_ID}", workload_identity_pool_id=pool.workload_identity_pool_id,
        workload_identity_pool_provider_id=PROVIDER_ID, project=config.project, display_name="GitHub Actions",
        description=f"GitHub Actions workflows of {ci.repository}",
        attribute_mapping=GITHUB_MAPPING, attribute_condition=attribute_condition(ci),
        # No allowed audiences: the token's audience must be the provider's resource name, which is what
        # google-github-actions/auth asks GitHub for.
        oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER), opts=opts)
    account = gcp.serviceaccount.Account(
        f"{name}-ci", account_id=names.ci_account_id, project=config.project,
        display_name=f"Sweeps CI ({config.team})",
        description=f"GitHub Actions of {ci.repository} launch sweeps as this account. No keys.", opts=opts)
    # principalSet://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/attribute.repository/OWNER/NAME
    repository = pulumi.Output.concat("principalSet://iam.googleapis.com/", pool.name, "/attribute.repository/",
                                      ci.repository)
    gcp.serviceaccount.IAMMember(f"{name}-ci-impersonation", service_account_id=account.name, role=IMPERSONATE,
                                 member=repository, opts=pulumi.ResourceOptions(parent=parent))
    return CiIdentity(account, provider)
