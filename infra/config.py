"""The stack config of one onboarded project: typed, validated, and named the way the stack file names it.

A stack file (``infra/stacks/Pulumi.<stack>.yaml``) holds ``gcp:project``, ``gcp:region`` and the
``sweeps:*`` keys below (camelCase, as Pulumi config keys are). The same model validates what
``infra.onboard`` writes and what ``pulumi up`` reads, so a bad value fails before anything is created.
Pulumi itself is imported only by :meth:`StackConfig.from_pulumi`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from infra.policy import ADVISORY, DIGEST_REF, RULES

PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
# At most 22 characters, so that "<team>-trainer" fits a service account id (6-30 characters).
TEAM = re.compile(r"[a-z](?:[a-z0-9-]{0,20}[a-z0-9])?")
MEMBER = re.compile(r"(user|group|serviceAccount):[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PROJECT_NUMBER = re.compile(r"[1-9][0-9]{5,18}")
BILLING_ACCOUNT = re.compile(r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}")
# GitHub: an owner is 1-39 letters, digits and single inner hyphens; a repository name 1-100 letters, digits, . _ -.
GITHUB_REPOSITORY = re.compile(r"(?=[A-Za-z0-9-]{1,39}/)[A-Za-z0-9](?:-?[A-Za-z0-9])*/[A-Za-z0-9._-]{1,100}")
GITHUB_ID = re.compile(r"[1-9][0-9]{0,19}")
# A branch as it follows refs/heads/ (git check-ref-format, narrowed): no quotes, spaces, "..", or leading "-", "/".
BRANCH = re.compile(r"(?!.*\.\.)(?=.{1,200}$)[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
# Regions where Vertex AI runs custom training and hyperparameter tuning jobs.
VERTEX_REGIONS = frozenset({
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3",
    "us-west4", "northamerica-northeast1", "northamerica-northeast2", "southamerica-east1",
    "europe-central2", "europe-north1", "europe-southwest1", "europe-west1", "europe-west2",
    "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9", "me-central1",
    "me-west1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-southeast1", "asia-southeast2", "australia-southeast1", "australia-southeast2",
})
GCP_KEYS = ("project", "region")  # fields read from the gcp: namespace; the rest are sweeps:
RUN_TAG_PREFIX = "run-"  # a Vertex AI run tags its image run-<run id>; the registry's cleanup keeps those


class ConfigError(ValueError):
    """A stack config value is invalid, or a file beside it (a stack file, the policy pack's config) or a step of
    onboarding cannot be used; the message names the key or file and says what to do. A task shows it as one line
    (tasks/flags.py), as it shows jobs' UserError."""


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str | int], str]:
    """A validator: the value as text when it matches ``pattern``, else a ValueError saying what it should be."""

    def check(value: str | int) -> str:
        if not pattern.fullmatch(str(value)):
            raise ValueError(f"{value!r} is not {what}")
        return str(value)

    return check


check_project_id = _matching(PROJECT_ID, "a GCP project id (6-30 characters: lowercase letters, digits and hyphens; "
                                         "starts with a letter, does not end with a hyphen)")
check_team = _matching(TEAM, "a team name (1-22 characters: lowercase letters, digits and hyphens; starts with a "
                             "letter, does not end with a hyphen)")
check_member = _matching(MEMBER, "a launcher member (user:EMAIL, group:EMAIL or serviceAccount:EMAIL)")
check_digest_ref = _matching(DIGEST_REF, "an image reference by digest (REGISTRY/PATH@sha256:<64 hex>)")
check_project_number = _matching(PROJECT_NUMBER, "a project number (digits; `gcloud projects describe PROJECT "
                                                 "--format='value(projectNumber)'` prints it)")
check_billing_account = _matching(BILLING_ACCOUNT, "a billing account id (XXXXXX-XXXXXX-XXXXXX, uppercase hex)")
check_github_repository = _matching(GITHUB_REPOSITORY, "a GitHub repository (OWNER/NAME, as GitHub spells it)")
check_github_id = _matching(GITHUB_ID, "a GitHub repository id (digits; `gh api repos/OWNER/NAME --jq .id` prints it)")
check_branch = _matching(BRANCH, "a branch name (letters, digits, '.', '_', '-' and '/', as it follows refs/heads/)")


def check_region(value: str) -> str:
    """A region where Vertex AI runs training jobs."""
    if value not in VERTEX_REGIONS:
        raise ValueError(f"{value!r} is not a Vertex AI training region (one of: "
                         f"{', '.join(sorted(VERTEX_REGIONS))})")
    return value


def check_unique(values: list[str]) -> list[str]:
    """The list without repeats (a repeat would be granted twice under one resource name)."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return values


ProjectId = Annotated[str, AfterValidator(check_project_id)]
Region = Annotated[str, AfterValidator(check_region)]
Team = Annotated[str, AfterValidator(check_team)]
Member = Annotated[str, AfterValidator(check_member)]
DigestRef = Annotated[str, AfterValidator(check_digest_ref)]
BillingAccount = Annotated[str, AfterValidator(check_billing_account)]
ProjectNumber = Annotated[str | int, AfterValidator(check_project_number)]


class CiConfig(BaseModel):
    """``sweeps:ci``: a CI system whose workflows may launch sweeps without a key, through Workload Identity
    Federation (infra/ci_identity.py), with the launchers' rights."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    provider: Literal["github"] = "github"  # GitHub Actions
    repository: Annotated[str, AfterValidator(check_github_repository)]
    # GitHub's numeric id of the repository, which is never reused, unlike a name after a rename or deletion.
    repository_id: Annotated[str | int, AfterValidator(check_github_id)] | None = None
    branch: Annotated[str, AfterValidator(check_branch)] | None = None  # unset: any branch, tag or pull request


@dataclass(frozen=True)
class ResourceNames:
    """What one stack calls its resources; every name starts from the team and the project."""

    stack: str  # <team>-<project>: the stack, and the prefix of every resource name in it
    bucket: str  # globally unique as project ids are (at most 30 + 1 + 22 + 7 = 60 characters)
    service_account_id: str
    builder_account_id: str  # the account Cloud Build runs the image builds as (sweeps:imageBuilder cloudbuild)
    repository_id: str
    registry: str  # the region's Artifact Registry host
    repository: str  # the path under it that images are pushed to
    # sweeps:ci: the workload identity pool (4-32 of a-z, 0-9, -; "gcp-" is Google's) and the account CI runs as
    ci_pool_id: str
    ci_account_id: str

    @classmethod
    def of(cls, project: str, team: str, region: str) -> ResourceNames:
        registry, repository_id = f"{region}-docker.pkg.dev", f"{team}-sweeps"
        return cls(stack=f"{team}-{project}", bucket=f"{project}-{team}-sweeps", service_account_id=f"{team}-trainer",
                   builder_account_id=f"{team}-builder", repository_id=repository_id, registry=registry,
                   repository=f"{registry}/{project}/{repository_id}", ci_pool_id=f"sweeps-{team}",
                   ci_account_id=f"{team}-github")


def _advisory_only(names: list[str]) -> list[str]:
    for name in names:
        if name not in ADVISORY:
            why = ("is mandatory and cannot be relaxed" if name in {rule.name for rule in RULES}
                   else "is not a policy of the pack")
            raise ValueError(f"{name!r} {why}; advisory policies: {', '.join(sorted(ADVISORY))}")
    return names


class StackConfig(BaseModel):
    """Everything one stack needs to know about the project it onboards."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    project: ProjectId
    region: Region
    team: Team
    launchers: Annotated[list[Member], AfterValidator(check_unique)] = []
    versioning: bool = False
    staging_retention_days: int = Field(7, ge=1)
    artifacts_retention_days: int | None = Field(None, ge=1)
    noncurrent_retention_days: int = Field(30, ge=1)
    soft_delete_days: int = Field(7, ge=0, le=90)
    image_keep_count: int = Field(5, ge=1)
    # false: no trainer image is built (no Docker needed); trials take the package route (jobs/vertex/routes.py)
    build_image: bool = True
    # Who builds the trainer images: the Docker engine where pulumi up runs, or Cloud Build (no local Docker).
    image_builder: Literal["docker", "cloudbuild"] = "docker"
    trainer_image: DigestRef | None = None
    # A second trainer image with CUDA torch, for specs that ask for GPUs: built (cudaImage) or named.
    cuda_image: bool = False
    trainer_cuda_image: DigestRef | None = None
    budget_amount: int | None = Field(None, ge=1)
    billing_account: BillingAccount | None = None
    # Given rather than looked up: reading it needs the Resource Manager API, which this program enables.
    project_number: ProjectNumber | None = None
    budget_thresholds: list[Annotated[float, Field(gt=0, le=10)]] = [0.5, 0.9, 1.0]
    # Advisory policies (infra/policy.py) this stack is excused from; mandatory ones cannot be relaxed.
    relaxed_policies: Annotated[list[str], AfterValidator(check_unique), AfterValidator(_advisory_only)] = []
    # `invoke infra.up --no-policy` (an update without the policy pack) is refused unless this is true: a
    # platform team's decision, made in the stack file where review sees it.
    allow_no_policy: bool = False
    # Keyless CI that launches sweeps (a pool, a provider and a <team>-github account with the launchers' rights).
    ci: CiConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        if 0 < self.soft_delete_days < 7:
            raise ValueError(f"softDeleteDays {self.soft_delete_days}: use 0 (off) or 7-90 days")
        if (self.budget_amount is None) != (self.billing_account is None):
            raise ValueError("budgetAmount and billingAccount go together: set both or neither")
        if self.cuda_image and not self.build_image:
            raise ValueError("cudaImage builds a CUDA trainer image and buildImage false builds none: name one with "
                             "trainerCudaImage, or leave cudaImage out (GPU trials then take the package route)")
        if self.image_builder == "cloudbuild" and not self.build_image:
            raise ValueError("imageBuilder cloudbuild builds the trainer image and buildImage false builds none: "
                             "leave one of them out")
        if self.cuda_image and self.trainer_cuda_image:
            raise ValueError("cudaImage builds a CUDA trainer image and trainerCudaImage names one: set one of them")
        if self.budget_amount is not None and self.project_number is None:
            raise ValueError("a budget needs projectNumber (the budget filters by it): `gcloud projects describe "
                             f"{self.project} --format='value(projectNumber)'` prints it")
        return self

    @property
    def names(self) -> ResourceNames:
        return ResourceNames.of(self.project, self.team, self.region)

    @property
    def has_budget(self) -> bool:
        return self.budget_amount is not None

    @property
    def has_image(self) -> bool:
        """Whether the stack has a trainer image once it is up: one named, or one it builds."""
        return bool(self.trainer_image or self.build_image)

    @property
    def cloud_builds(self) -> bool:
        """Whether Cloud Build builds an image for this stack (a trainer or a CUDA image, not one named)."""
        builds = (self.build_image and not self.trainer_image) or self.cuda_image
        return self.image_builder == "cloudbuild" and builds

    @classmethod
    def from_keys(cls, values: Mapping[str, Any]) -> StackConfig:
        """Validate stack config keys (``gcp:project``, ``sweeps:team``, ...); raise ConfigError."""
        fields = {}
        for key, value in values.items():
            namespace, _, name = key.partition(":")
            if namespace == "sweeps" or (namespace == "gcp" and name in GCP_KEYS):
                fields[name] = value
        return cls.parse(fields)

    @classmethod
    def parse(cls, fields: Mapping[str, Any]) -> StackConfig:
        """Validate fields by name (``staging_retention_days``) or key name (``stagingRetentionDays``)."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @classmethod
    def from_stack_file(cls, path: Path) -> StackConfig:
        """Read and validate a ``Pulumi.<stack>.yaml`` file; raise ConfigError (OSError when it cannot be read)."""
        return cls.from_keys(read_stack_file(path).get("config") or {})

    @classmethod
    def from_pulumi(cls) -> StackConfig:
        """Read and validate the running stack's config (inside a Pulumi program only)."""
        import pulumi

        values = {}
        for field in cls.model_fields.values():
            namespace, _, name = stack_key(field.alias).partition(":")
            raw = pulumi.Config(namespace).get(name)
            if raw is not None:
                values[f"{namespace}:{name}"] = _decode(raw)
        return cls.from_keys(values)

    def to_keys(self) -> dict[str, Any]:
        """The stack config keys of the values set explicitly (defaults stay in code)."""
        dumped = self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
        return {stack_key(alias): value for alias, value in dumped.items()}


MAX_CONFIG_FILE_BYTES = 1_000_000  # a stack file or the policy pack's config holds a few dozen keys


def read_regular(path: Path, limit: int = MAX_CONFIG_FILE_BYTES) -> str:
    """The text of a regular file of at most ``limit`` bytes; ConfigError for a device, a FIFO (opened without
    waiting for a writer) or a larger file, OSError when it cannot be opened."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ConfigError("not a regular file")
        raw = file.read(limit + 1)
    if len(raw) > limit:
        raise ConfigError(f"more than {limit:,} bytes, the most such a file may hold")
    return raw.decode("utf-8")


def read_stack_file(path: Path) -> dict[str, Any]:
    """A ``Pulumi.<stack>.yaml`` file as written, unvalidated: a mapping whose ``config`` (when set) is a mapping;
    raise ConfigError for anything else (OSError when it cannot be read)."""
    try:
        document = yaml.safe_load(read_regular(path)) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML ({getattr(exc, 'problem', None) or exc}{where})") from None
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise ConfigError("not a stack file: expected a mapping with a `config:` mapping of keys")
    if odd := [key for key in document.get("config") or {} if not isinstance(key, str)]:
        raise ConfigError(f"config key {odd[0]!r} is not a name (namespace:key, e.g. sweeps:team)")
    return document


def stack_key(alias: str) -> str:
    """The stack config key of a field: ``gcp:project``, ``gcp:region``, else ``sweeps:<alias>``."""
    return f"{'gcp' if alias in GCP_KEYS else 'sweeps'}:{alias}"


def _decode(raw: str) -> Any:
    """Pulumi hands lists to the program as JSON text; numbers and booleans as text the model converts."""
    return json.loads(raw) if raw.startswith(("[", "{")) else raw


# Stack config keys that hold a mapping of keys of their own: an error names those as sweeps:ci.repository.
NESTED: dict[str, type[BaseModel]] = {"ci": CiConfig}


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        key = ""
        nested = NESTED.get(str(loc[0])) if len(loc) > 1 else None
        if loc:
            field = StackConfig.model_fields.get(str(loc[0]))
            parts = (f".{part}" if nested else f"[{part}]" for part in loc[1:])
            key = stack_key(field.alias if field else str(loc[0])) + "".join(parts)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            keys = ([f"{key.rsplit('.', 1)[0]}.{f.alias}" for f in nested.model_fields.values()] if nested
                    else [stack_key(f.alias) for f in StackConfig.model_fields.values()])
            known = ", ".join(keys)
            message = f"unknown key (known: {known})"
        elif error["type"] == "missing":
            message = "missing: this key is required"
        elif error["type"] == "model_type":
            message = f"must be a mapping of keys (got {error['input']!r})"
        elif error["type"] != "value_error":
            message += f" (got {error['input']!r})"
        lines.append(f"{key}: {message}" if key else message)
    return "; ".join(lines)
