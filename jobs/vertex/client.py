"""The JobService calls a sweep makes, through the google-cloud-aiplatform SDK over REST.

``aiplatform.init(..., api_transport="rest")`` then the SDK's own job client (the one its
``HyperparameterTuningJob`` class uses), pinned to the v1 API. Each call builds a fresh HTTP session,
so a call after a dropped connection reconnects. Every call is retried on transient errors; the
others are explained (see errors.py). ``api_endpoint`` points the SDK at a stand-in in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from google.api_core.retry import Retry
from google.auth.credentials import Credentials
from google.cloud.aiplatform_v1.types import HyperparameterTuningJob

from jobs.cloud.google import RETRY, Context, call_with_retry
from jobs.errors import UserError

T = TypeVar("T")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def vertex_context(project: str, region: str, trainer_service_account: str) -> Context:
    """What an API error names for a run in ``project``: Vertex AI, and the role that launches jobs on it."""
    return Context(project, region, trainer_service_account, "Vertex AI", "roles/aiplatform.user")


class RunIdTaken(UserError, ValueError):
    """The run id's job on Vertex AI runs another spec."""


def _check_same_spec(found: HyperparameterTuningJob, job: HyperparameterTuningJob) -> None:
    """Refuse to attach ``job``'s run to ``found`` when their ``spec`` or ``spec_hash`` labels differ."""
    theirs, ours = found.labels, job.labels
    if (theirs.get("spec"), theirs.get("spec_hash")) != (ours["spec"], ours["spec_hash"]):
        raise RunIdTaken(f"run id {ours['run_id']} is taken on Vertex AI by job {found.name} of spec "
                         f"{theirs.get('spec', '(none)')} (spec_hash {theirs.get('spec_hash', '(none)')}), not this "
                         f"spec {ours['spec']} (spec_hash {ours['spec_hash']}): pick another --run-id")


@dataclass(frozen=True)
class ApiSettings:
    """How to reach Vertex AI. The defaults are production's: application default credentials, the
    region's endpoint, retries for up to 10 minutes, a poll every 15 s while following a job."""

    credentials: Credentials | None = None
    api_endpoint: str | None = None  # e.g. http://127.0.0.1:PORT for a stand-in
    registry_endpoint: str | None = None  # Artifact Registry's API; None: Google's
    retry: Retry = RETRY  # which errors are retried, the waits between tries, when to give up (errors.RETRY)
    poll_s: float = 15.0
    call_timeout_s: float = 60.0  # a call unanswered this long (a silently dropped connection) is retried
    # How long trials may still be billed once a cancel is asked: the aiplatform reference says a cancelled job
    # "is attempted to be cancelled" and gives no time; the cost ceiling keeps this much in reserve.
    cancel_s: float = 60.0
    # The shortest scheduling.timeout a cost ceiling may give a trial: Vertex AI's reference gives no minimum,
    # and a trial's container rarely does anything useful in less.
    min_trial_timeout_s: float = 60.0


class VertexJobs:
    """HyperparameterTuningJobs of one project and region: submit (idempotent by run id), get, cancel."""

    def __init__(self, context: Context, settings: ApiSettings = ApiSettings(),
                 on_retry: Callable[[str], None] | None = None):
        import google.auth

        # Credentials first: without a login the user hears so before the SDK's second of imports.
        credentials = settings.credentials or google.auth.default(scopes=[CLOUD_PLATFORM])[0]
        from google.cloud import aiplatform
        from google.cloud.aiplatform import compat, initializer, utils

        # Everything explicit: aiplatform.init keeps earlier values for arguments left None.
        aiplatform.init(project=context.project, location=context.region, credentials=credentials,
                        api_endpoint=settings.api_endpoint or f"{context.region}-aiplatform.googleapis.com",
                        api_transport="rest")
        self._api = initializer.global_config.create_client(
            client_class=utils.JobClientWithOverride, credentials=credentials,
            location_override=context.region).select_version(compat.V1)
        self.context, self.credentials = context, credentials
        self.parent = f"projects/{context.project}/locations/{context.region}"
        self.retry = settings.retry
        self.timeout = settings.call_timeout_s
        self.on_retry = on_retry

    def _retry(self, call: Callable[[], T], what: str) -> T:
        return call_with_retry(call, what, self.context, self.retry, self.on_retry)

    def _list(self, labels: dict[str, str]) -> list[HyperparameterTuningJob]:
        """Every job carrying all of ``labels`` (the list call's filter: ``labels.KEY="VALUE"`` joined by AND)."""
        wanted = " AND ".join(f'labels.{key}="{value}"' for key, value in labels.items())
        pager = self._api.list_hyperparameter_tuning_jobs(request={"parent": self.parent, "filter": wanted},
                                                          timeout=self.timeout)
        return list(pager)

    def _find(self, run_id: str) -> HyperparameterTuningJob | None:
        """The newest job labelled ``run_id=<run_id>``, if any."""
        jobs = self._list({"run_id": run_id})
        return max(jobs, key=lambda job: job.create_time.timestamp()) if jobs else None

    def labelled(self, **labels: str) -> list[HyperparameterTuningJob]:
        """Every job of the project and region carrying all of ``labels`` (e.g. ``team="vision"``), with its
        trials."""
        shown = ", ".join(f"{key}={value}" for key, value in labels.items())
        return self._retry(lambda: self._list(labels), f"listing the jobs labelled {shown}")

    def submit(self, job: HyperparameterTuningJob) -> tuple[HyperparameterTuningJob, bool]:
        """Create ``job`` unless a job with its run id label exists; returns (job, created).

        Each attempt looks first, so a create that reached Vertex before its answer was lost is found by
        the retry instead of being made twice."""
        run_id = job.labels["run_id"]

        def attempt() -> tuple[HyperparameterTuningJob, bool]:
            found = self._find(run_id)
            if found is not None:
                _check_same_spec(found, job)
                return found, False
            created = self._api.create_hyperparameter_tuning_job(parent=self.parent, hyperparameter_tuning_job=job,
                                                                 timeout=self.timeout)
            return created, True

        return self._retry(attempt, f"submitting run {run_id}")

    def get(self, name: str) -> HyperparameterTuningJob:
        """The job now, with its trials."""
        return self._retry(lambda: self._api.get_hyperparameter_tuning_job(name=name, timeout=self.timeout),
                           f"reading {name}")

    def cancel(self, name: str) -> None:
        """Ask Vertex AI to cancel the job (it moves through CANCELLING to CANCELLED)."""
        self._retry(lambda: self._api.cancel_hyperparameter_tuning_job(name=name, timeout=self.timeout),
                    f"cancelling {name}")
