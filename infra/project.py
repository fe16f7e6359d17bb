"""``SweepsProject``: everything one onboarded project needs to run sweeps on Vertex AI.

APIs, one bucket (``data/``, ``staging/``, ``artifacts/``), a keyless trainer service account that
trials run as, launcher grants, an Artifact Registry repository with cleanup policies, the trainer
image pushed by digest (built by the local Docker engine, or by Cloud Build as a keyless builder account),
and an optional billing budget. Every resource name starts with the
component's name (``<team>-<project>``), so projects never clash in one program or across stacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from infra import ci_identity
from infra.cloudbuild import SOURCE_PREFIX, CloudBuildImage, context_digest
from infra.config import RUN_TAG_PREFIX, StackConfig
from infra.outputs import Outputs, routes

APIS = ("aiplatform", "artifactregistry", "storage", "iam", "iamcredentials", "logging",
        "cloudresourcemanager")
BUDGET_APIS = ("cloudbilling", "billingbudgets")
CLOUD_BUILD_APIS = ("cloudbuild",)  # sweeps:imageBuilder cloudbuild
DATA, STAGING, ARTIFACTS = "data", "staging", "artifacts"
IMAGE, CUDA_IMAGE = "trainer", "trainer-cuda"
# PyPI's torch wheels for Linux x86_64 are the CUDA builds (they bring the CUDA runtime; the GPU host brings
# the driver); the trainer image's default index serves the CPU build.
CUDA_TORCH_INDEX = "https://pypi.org/simple"
# A Vertex AI run tags the image it runs "run-<run id>" (jobs/vertex/registry.py); the cleanup keeps those
# ("If an artifact version matches criteria in both a delete policy and a keep policy, Artifact Registry
# applies the keep policy": Artifact Registry, "Configure cleanup policies").
TAGGER_PERMISSIONS = ["artifactregistry.tags.create", "artifactregistry.tags.get", "artifactregistry.tags.list"]
# No grant to Vertex AI's service agents: "If you are using an Artifact Registry image from the same Google
# Cloud project ..., then there is no further need to configure permissions" (Vertex AI, "Create a custom
# container image for training"); their service agent roles already read the project's repositories. The
# custom code agent does not exist before first use, so granting it anything breaks a first `pulumi up`.


@dataclass(frozen=True)
class SweepsProjectArgs:
    """The validated stack config, and where the trainer image is built from."""

    config: StackConfig
    context: Path  # the docker build context: the repository root
    dockerfile: Path  # trainer/Dockerfile


class SweepsProject(pulumi.ComponentResource):
    """One onboarded project; ``outputs`` holds what sweeps need (bucket paths, account, image)."""

    outputs: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: SweepsProjectArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("sweeps:infra:Project", name, None, opts)
        self._prefix, self._config = name, args.config
        config = args.config
        services = self._enable_apis()
        self.bucket = self._bucket(services)
        self.trainer = self._trainer(services)
        self.repository = self._repository(services)
        # What a Cloud Build build waits for: its API, and its account's grants.
        self._build_needs: list[pulumi.Resource] = (
            [*services, *self._builder(services)] if config.cloud_builds else [])
        self.ci = ci_identity.provision(name, config, self, services) if config.ci else None
        self._grant_launchers()
        if config.has_budget:
            self._budget(services)
        image = config.trainer_image or (self._image(args, IMAGE) if config.build_image else None)
        cuda_image = config.trainer_cuda_image or (
            self._image(args, CUDA_IMAGE, {"TORCH_INDEX_URL": CUDA_TORCH_INDEX}) if config.cuda_image else None)
        bucket_root = pulumi.Output.concat("gs://", self.bucket.name)
        self.outputs = Outputs(  # infra/outputs.py: what a sweep reads (jobs/cloud/stack.py), and the extras
            project=config.project, region=config.region, team=config.team,
            data_root=pulumi.Output.concat(bucket_root, f"/{DATA}"),
            artifacts_root=pulumi.Output.concat(bucket_root, f"/{ARTIFACTS}"),
            staging=pulumi.Output.concat(bucket_root, f"/{STAGING}"),
            trainer_service_account=self.trainer.email, image=image, cuda_image=cuda_image,
        ).exported(bucket=self.bucket.name, routes=list(routes(config.has_image)), repository=pulumi.Output.concat(
            f"{config.names.registry}/{config.project}/", self.repository.repository_id),
            **(self.ci.outputs if self.ci else {}))
        self.register_outputs(self.outputs)

    def _child(self, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))

    @property
    def _labels(self) -> dict[str, str]:
        return {"team": self._config.team, "project": self._config.project, "managed-by": "pulumi"}

    def _enable_apis(self) -> list[gcp.projects.Service]:
        apis = (APIS + (BUDGET_APIS if self._config.has_budget else ())
                + (CLOUD_BUILD_APIS if self._config.cloud_builds else ())
                + (ci_identity.CI_APIS if self._config.ci else ()))
        return [gcp.projects.Service(f"{self._prefix}-{api}", project=self._config.project,
                                     service=f"{api}.googleapis.com", disable_on_destroy=False,
                                     opts=self._child())
                for api in apis]

    def _bucket(self, services: list[gcp.projects.Service]) -> gcp.storage.Bucket:
        config = self._config
        rules = [_delete_after(config.staging_retention_days, f"{STAGING}/")]
        if config.artifacts_retention_days:
            rules.append(_delete_after(config.artifacts_retention_days, f"{ARTIFACTS}/"))
        if config.versioning:
            rules.append(gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    days_since_noncurrent_time=config.noncurrent_retention_days, with_state="ARCHIVED")))
        return gcp.storage.Bucket(
            f"{self._prefix}-bucket", name=config.names.bucket, project=config.project,
            location=config.region.upper(), uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=config.soft_delete_days * 86400),
            versioning=gcp.storage.BucketVersioningArgs(enabled=config.versioning),
            lifecycle_rules=rules, labels=self._labels, opts=self._child(*services))

    def _trainer(self, services: list[gcp.projects.Service]) -> gcp.serviceaccount.Account:
        """The account trials run as (no keys): objects in the bucket, and log writing."""
        config = self._config
        trainer = gcp.serviceaccount.Account(
            f"{self._prefix}-trainer", account_id=config.names.service_account_id, project=config.project,
            display_name=f"Sweeps trainer ({config.team})",
            description="Vertex AI trials run as this account. No keys.", opts=self._child(*services))
        gcp.storage.BucketIAMMember(f"{self._prefix}-trainer-objects", bucket=self.bucket.name,
                                    role="roles/storage.objectUser", member=trainer.member,
                                    opts=self._child())
        gcp.projects.IAMMember(f"{self._prefix}-trainer-logs", project=config.project,
                               role="roles/logging.logWriter", member=trainer.member, opts=self._child())
        return trainer

    def _repository(self, services: list[gcp.projects.Service]) -> gcp.artifactregistry.Repository:
        """The Docker repository: keeps the newest trainer versions and every version a run is tagged on."""
        config = self._config
        ar = gcp.artifactregistry
        repository = ar.Repository(
            f"{self._prefix}-repository", repository_id=config.names.repository_id, project=config.project,
            location=config.region, format="DOCKER", description=f"Trainer images of {config.team}",
            labels=self._labels, cleanup_policy_dry_run=False,
            cleanup_policies=[
                ar.RepositoryCleanupPolicyArgs(
                    id="keep-run-images", action="KEEP",
                    condition=ar.RepositoryCleanupPolicyConditionArgs(
                        tag_state="TAGGED", tag_prefixes=[RUN_TAG_PREFIX], package_name_prefixes=[IMAGE])),
                ar.RepositoryCleanupPolicyArgs(
                    id=f"keep-{config.image_keep_count}-newest", action="KEEP",
                    most_recent_versions=ar.RepositoryCleanupPolicyMostRecentVersionsArgs(
                        keep_count=config.image_keep_count, package_name_prefixes=[IMAGE])),
                ar.RepositoryCleanupPolicyArgs(
                    id="delete-older", action="DELETE",
                    condition=ar.RepositoryCleanupPolicyConditionArgs(
                        tag_state="ANY", package_name_prefixes=[IMAGE])),
            ],
            opts=self._child(*services))
        return repository

    def _builder(self, services: list[gcp.projects.Service]) -> list[pulumi.Resource]:
        """The account Cloud Build runs the image builds as (no keys): it pushes to the repository (only there),
        reads the build contexts under staging/cloudbuild/ (nothing else in the bucket) and writes its logs.
        Returns the account's grants."""
        config = self._config
        self.builder = gcp.serviceaccount.Account(
            f"{self._prefix}-builder", account_id=config.names.builder_account_id, project=config.project,
            display_name=f"Sweeps image builder ({config.team})",
            description="Cloud Build builds the trainer images as this account. No keys.",
            opts=self._child(*services))
        member = self.builder.member
        # "grant the Artifact Registry Writer role to the build service account" (Artifact Registry, "Configure
        # access for Cloud Build"), on the repository alone.
        push = gcp.artifactregistry.RepositoryIamMember(
            f"{self._prefix}-builder-push", project=config.project, location=config.region,
            repository=self.repository.repository_id, role="roles/artifactregistry.writer", member=member,
            opts=self._child())
        # Objects by name prefix: an IAM condition on resource.name (Cloud Storage, "IAM Conditions").
        sources = gcp.storage.BucketIAMMember(
            f"{self._prefix}-builder-sources", bucket=self.bucket.name, role="roles/storage.objectViewer",
            member=member, condition=gcp.storage.BucketIAMMemberConditionArgs(
                title="build-contexts", description=f"Cloud Build reads the build contexts under {SOURCE_PREFIX}",
                expression=f'resource.name.startsWith("projects/_/buckets/{config.names.bucket}/objects/'
                           f'{SOURCE_PREFIX}")'),
            opts=self._child())
        # "To store build logs in Cloud Logging, grant the Logs Writer (roles/logging.logWriter) role" (Cloud
        # Build, "Configure user-specified service accounts").
        logs = gcp.projects.IAMMember(f"{self._prefix}-builder-logs", project=config.project,
                                      role="roles/logging.logWriter", member=member, opts=self._child())
        return [push, sources, logs]

    def _grant_launchers(self) -> None:
        """Launchers (and the CI account, with sweeps:ci) start jobs, act as the trainer (on that account only),
        manage objects, pull images and tag the image a run uses (nothing else: no push, no delete)."""
        config = self._config
        launchers: list[tuple[str, pulumi.Input[str]]] = [(f"launcher-{_slug(m)}", m) for m in config.launchers]
        if self.ci:
            launchers.append(("ci", self.ci.account.member))
        tagger = gcp.projects.IAMCustomRole(
            f"{self._prefix}-image-tagger", project=config.project,
            role_id=f"sweepsImageTagger_{config.team.replace('-', '_')}", title=f"Sweeps image tagger ({config.team})",
            description="Tag a trainer image with the run that uses it, so the registry's cleanup keeps it.",
            permissions=TAGGER_PERMISSIONS, opts=self._child()) if launchers else None
        for who, member in launchers:
            gcp.projects.IAMMember(f"{self._prefix}-{who}-vertex", project=config.project,
                                   role="roles/aiplatform.user", member=member, opts=self._child())
            gcp.serviceaccount.IAMMember(f"{self._prefix}-{who}-act-as-trainer",
                                         service_account_id=self.trainer.name,
                                         role="roles/iam.serviceAccountUser", member=member,
                                         opts=self._child())
            gcp.storage.BucketIAMMember(f"{self._prefix}-{who}-objects", bucket=self.bucket.name,
                                        role="roles/storage.objectAdmin", member=member, opts=self._child())
            gcp.artifactregistry.RepositoryIamMember(
                f"{self._prefix}-{who}-images", project=config.project, location=config.region,
                repository=self.repository.repository_id, role="roles/artifactregistry.reader", member=member,
                opts=self._child())
            gcp.artifactregistry.RepositoryIamMember(
                f"{self._prefix}-{who}-tags", project=config.project, location=config.region,
                repository=self.repository.repository_id, role=tagger.name, member=member, opts=self._child())

    def _image(self, args: SweepsProjectArgs, name: str, build_args: dict[str, str] | None = None
               ) -> pulumi.Output[str]:
        """Build trainer/Dockerfile as image ``name`` with the stack's builder, push it, and return its reference
        by digest."""
        config = self._config
        tag = f"{config.names.repository}/{name}:latest"
        if config.image_builder == "cloudbuild":
            dockerfile = args.dockerfile.relative_to(args.context).as_posix()
            context = args.context.resolve()  # the build runs elsewhere: only the digest decides a rebuild
            image = CloudBuildImage(f"{self._prefix}-{name}-image", {
                "project": config.project, "region": config.region, "bucket": self.bucket.name,
                "service_account": self.builder.name, "tag": tag, "context": str(context), "dockerfile": dockerfile,
                "build_args": build_args or {}, "labels": self._labels,
                "context_digest": context_digest(context, dockerfile),
            }, opts=self._child(self.repository, *self._build_needs))
            return pulumi.Output.concat(f"{config.names.repository}/{name}@", image.digest)
        token = gcp.organizations.get_client_config_output().access_token
        image = docker_build.Image(
            f"{self._prefix}-{name}-image",
            context=docker_build.BuildContextArgs(location=str(args.context)),
            dockerfile=docker_build.DockerfileArgs(location=str(args.dockerfile)),
            build_args=build_args,
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True, build_on_preview=False,
            tags=[tag],
            registries=[docker_build.RegistryArgs(address=config.names.registry, username="oauth2accesstoken",
                                                  password=pulumi.Output.secret(token))],
            labels=self._labels, opts=self._child(self.repository))
        return pulumi.Output.concat(f"{config.names.repository}/{name}@", image.digest)

    def _budget(self, services: list[gcp.projects.Service]) -> None:
        config = self._config
        gcp.billing.Budget(
            f"{self._prefix}-budget", billing_account=config.billing_account,
            display_name=f"sweeps {config.names.stack}",  # at most 60 characters
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(projects=[f"projects/{config.project_number}"],
                                                              calendar_period="MONTH"),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(units=str(config.budget_amount))),
            threshold_rules=[gcp.billing.BudgetThresholdRuleArgs(threshold_percent=share)
                             for share in config.budget_thresholds],
            opts=self._child(*services))


def _delete_after(days: int, prefix: str) -> gcp.storage.BucketLifecycleRuleArgs:
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=days, matches_prefixes=[prefix]))


def _slug(member: str) -> str:
    """``user:Ann.Lee@example.com`` -> ``user-ann-lee-example-com`` (a resource-name part)."""
    return re.sub(r"[^a-z0-9]+", "-", member.lower()).strip("-")
