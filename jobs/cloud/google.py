"""Google Cloud API errors: transient ones retried with backoff, the others explained in plain words, naming the
service (``Context.service``) and the role that launching on it needs.

Transient: 5xx (503 unavailable, 500 internal, 504 deadline), 429 rate limits, a dropped or refused
connection. Explained: 401 (no credentials), 403 (which role is missing, or the API is off), 429 quota
exhausted (which quota), 404, 400. The retrying is ``google.api_core.retry.Retry`` with ``is_transient``
as its predicate; ``google.api_core`` is light (no aiplatform import).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from google.api_core import exceptions as api
from google.api_core.retry import Retry
from google.auth import exceptions as auth

from jobs.errors import ServiceError

T = TypeVar("T")
QUOTA_METRIC = re.compile(r"\b[a-z]+\.googleapis\.com/[\w./-]*\w")
REQUEST_PREFIX = re.compile(r"^(?:GET|POST|PATCH|PUT|DELETE) \S+: ")  # api_core puts the URL before the message
ACT_AS = re.compile(r"actAs|act as", re.IGNORECASE)


class GoogleApiError(ServiceError, RuntimeError):
    """A Google Cloud API call failed for a reason the user can act on; the message says what to do."""


class PermissionProblem(GoogleApiError):
    """403: the caller lacks a role (named in the message), or the API is not enabled."""


class QuotaProblem(GoogleApiError):
    """429 RESOURCE_EXHAUSTED on a quota (named in the message), not a passing rate limit."""


class ApiUnavailable(GoogleApiError):
    """Transient errors went on past the retry deadline."""


@dataclass(frozen=True)
class Context:
    """What an explanation names: the project, region and trainer account of the stack, the service called and
    the role that launching on it needs."""

    project: str
    region: str
    trainer_service_account: str
    service: str  # as the user knows it: "Vertex AI"
    role: str  # the IAM role a launcher needs on the project


def _message(exc: Exception) -> str:
    return REQUEST_PREFIX.sub("", getattr(exc, "message", None) or str(exc))


def is_quota(exc: Exception) -> bool:
    """A 429 on an exhausted quota (per-minute request quotas pass, so they count as rate limits)."""
    if not isinstance(exc, api.TooManyRequests):
        return False
    text = _message(exc).lower()
    quota_failure = any(str(d.get("@type", "")).endswith("google.rpc.QuotaFailure") for d in _details(exc))
    return (quota_failure or "quota" in text) and "per minute" not in text


def _details(exc: Exception) -> list:
    return [d for d in (getattr(exc, "details", None) or []) if isinstance(d, dict)]


def is_transient(exc: Exception) -> bool:
    """Worth retrying: the same call may well succeed in a moment."""
    if isinstance(exc, api.TooManyRequests):
        return not is_quota(exc)
    if isinstance(exc, api.ServerError):  # 500, 502, 503, 504 and DeadlineExceeded; not 501
        return not isinstance(exc, api.MethodNotImplemented)
    return isinstance(exc, requests.ConnectionError | requests.Timeout | auth.TransportError)


RETRY = Retry(predicate=is_transient, initial=1.0, maximum=60.0, multiplier=2.0, timeout=600.0)
"""Production's retrying: transient errors only; each wait drawn at random below a cap of 1 s that doubles
after each error up to 60 s (api_core's jittered exponential backoff); no new try once 10 minutes would be
passed. Tests shorten it with ``RETRY.with_delay(...)`` and ``.with_timeout(...)``, which keep the predicate.
Leave its ``on_error`` unset: ``call_with_retry`` passes its own, which says what is being retried."""


def explain(exc: Exception, context: Context) -> GoogleApiError:
    """The error as something the user can act on."""
    text = _message(exc)
    project, account, service, role = (context.project, context.trainer_service_account, context.service,
                                       context.role)
    if isinstance(exc, api.Unauthenticated):
        return GoogleApiError(f"{service} refused the credentials ({text}). Log in with "
                           "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS.")
    if isinstance(exc, api.PermissionDenied | api.Forbidden):
        reasons = {d.get("reason") for d in _details(exc)}
        if "SERVICE_DISABLED" in reasons or "has not been used" in text or "is disabled" in text:
            return PermissionProblem(f"the {service} API is not enabled in project {project} ({text}). "
                                     "`pulumi up` for the stack enables it.")
        if ACT_AS.search(text):
            return PermissionProblem(
                f"permission denied: you may not act as the trainer service account {account} ({text}). "
                f"Launching needs roles/iam.serviceAccountUser on {account}: add yourself to the stack's "
                "launchers and run `pulumi up`, or ask an owner to run `gcloud iam service-accounts "
                f"add-iam-policy-binding {account} --member=user:YOU --role=roles/iam.serviceAccountUser`.")
        return PermissionProblem(
            f"permission denied in project {project} ({text}). Launching sweeps needs {role} on "
            f"project {project} (and roles/iam.serviceAccountUser on {account}): add yourself to the stack's "
            "launchers and run `pulumi up`, or ask an owner to run `gcloud projects add-iam-policy-binding "
            f"{project} --member=user:YOU --role={role}`.")
    if is_quota(exc):
        return QuotaProblem(quota_advice(text, context))
    if isinstance(exc, api.NotFound):
        return GoogleApiError(f"not found in project {project}, region {context.region}: {text}")
    if isinstance(exc, api.InvalidArgument | api.BadRequest | api.FailedPrecondition):
        return GoogleApiError(f"{service} rejected the request: {text}")
    if is_transient(exc):
        return ApiUnavailable(f"{service} did not answer: {type(exc).__name__}: {text}")
    return GoogleApiError(f"{service} call failed: {type(exc).__name__}: {text}")


def quota_advice(text: str, context: Context) -> str:
    """Which quota ran out (the metric the service names, e.g. aiplatform.googleapis.com/
    custom_model_training_nvidia_t4_gpus) and how to get past it."""
    metric = QUOTA_METRIC.search(text)
    which = metric.group(0) if metric else f"a {context.service} quota"
    return (f"quota exhausted: {which} in project {context.project}, region {context.region} ({text}). Lower "
            "trials.parallel or the machine size, or request more in the console: IAM & Admin > Quotas, "
            f"filtered by {which}.")


def call_with_retry(call: Callable[[], T], what: str, context: Context, retry: Retry = RETRY,
                    on_retry: Callable[[str], None] | None = None) -> T:
    """``call()`` under ``retry`` (again after each error its predicate accepts, until its timeout); any other
    API error, and the last retried one, raise a GoogleApiError that explains it. ``on_retry`` hears each retry.
    Errors that are not API or connection errors pass through unexplained."""
    started = time.monotonic()

    def on_error(exc: Exception) -> None:
        left = None if retry.timeout is None else retry.timeout - (time.monotonic() - started)
        if on_retry and (left is None or left > 0):  # none left: Retry gives up after this error
            until = "" if left is None else f" for up to {left:.0f} s more"
            on_retry(f"{what}: {type(exc).__name__}: {_message(exc)[:200]}; retrying{until}")

    try:
        return retry(call, on_error=on_error)()
    except api.RetryError as exc:  # retried errors went on past the timeout: the last one is the reason
        last = exc.cause or exc
        raise explain(last, context) from last
    except (api.GoogleAPIError, requests.RequestException, auth.TransportError) as exc:
        raise explain(exc, context) from exc
