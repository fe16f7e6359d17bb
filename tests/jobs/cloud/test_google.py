"""Which API errors are retried, and what the others tell the user to do."""

from __future__ import annotations

import pytest
import requests
from google.api_core import exceptions as api

from jobs.cloud.google import (
    RETRY,
    ApiUnavailable,
    GoogleApiError,
    PermissionProblem,
    QuotaProblem,
    call_with_retry,
    explain,
    is_transient,
)
from jobs.vertex.client import vertex_context

CONTEXT = vertex_context("acme-ml", "europe-west4", "vision-trainer@acme-ml.iam.gserviceaccount.com")
QUOTA_FAILURE = {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"subject": "project:acme-ml", "description": "too many GPUs"}]}


@pytest.mark.parametrize("exc, transient", [
    (api.ServiceUnavailable("down"), True),
    (api.InternalServerError("oops"), True),
    (api.DeadlineExceeded("slow"), True),
    (api.TooManyRequests("Rate limit exceeded, retry later"), True),
    (requests.ConnectionError("reset by peer"), True),
    (requests.ReadTimeout("quiet"), True),
    (api.TooManyRequests("Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus"), False),
    (api.TooManyRequests("resources exhausted", details=[QUOTA_FAILURE]), False),
    (api.MethodNotImplemented("no"), False),
    (api.Forbidden("denied"), False),
    (api.BadRequest("bad"), False),
])
def test_transient_or_not(exc, transient):
    assert is_transient(exc) is transient


@pytest.mark.parametrize("exc, kind, says", [
    (api.Unauthenticated("Request had invalid authentication credentials."), GoogleApiError,
     "gcloud auth application-default login"),
    (api.Forbidden("Vertex AI API has not been used in project 123 before or it is disabled."), PermissionProblem,
     "the Vertex AI API is not enabled in project acme-ml"),
    (api.TooManyRequests("Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus."),
     QuotaProblem, "quota exhausted: aiplatform.googleapis.com/custom_model_training_nvidia_t4_gpus in project "
                   "acme-ml, region europe-west4"),
    (api.TooManyRequests("resources exhausted", details=[QUOTA_FAILURE]), QuotaProblem, "quota exhausted: a Vertex AI"),
    (api.NotFound("HyperparameterTuningJob 7 not found"), GoogleApiError, "not found in project acme-ml, region "
                                                                      "europe-west4: HyperparameterTuningJob 7"),
    (api.BadRequest("List of found errors: 1.Field: machine_spec"), GoogleApiError,
     "Vertex AI rejected the request: List of found errors"),
])
def test_explanations(exc, kind, says):
    explained = explain(exc, CONTEXT)
    assert type(explained) is kind and says in str(explained)


def test_retry_until_success_then_until_the_deadline():
    answers = [api.ServiceUnavailable("down"), requests.ConnectionError("reset"), "ok"]
    seen = []

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retry(call, "reading", CONTEXT, RETRY.with_delay(initial=0.001), seen.append) == "ok"
    assert len(seen) == 2 and seen[0].startswith("reading: ServiceUnavailable: down; retrying for up to")

    def down():
        raise api.ServiceUnavailable("still down")

    with pytest.raises(ApiUnavailable, match="did not answer: ServiceUnavailable") as caught:
        call_with_retry(down, "reading", CONTEXT, RETRY.with_delay(initial=0.01).with_timeout(0.05))
    assert isinstance(caught.value.__cause__, api.ServiceUnavailable)  # the last error, not api_core's RetryError
    with pytest.raises(ZeroDivisionError):  # not an API error: not ours to explain
        call_with_retry(lambda: 1 / 0, "dividing", CONTEXT, RETRY)


@pytest.mark.parametrize("exc, kind", [
    (api.TooManyRequests("Quota exceeded for aiplatform.googleapis.com/custom_model_training_cpus."), QuotaProblem),
    (api.Forbidden("denied"), PermissionProblem),
    (api.MethodNotImplemented("no"), GoogleApiError),
])
def test_what_is_not_transient_is_tried_once_and_explained(exc, kind):
    calls, seen = [], []

    def call():
        calls.append(1)
        raise exc

    with pytest.raises(kind) as caught:
        call_with_retry(call, "creating", CONTEXT, RETRY.with_delay(initial=0.001), seen.append)
    assert (len(calls), seen, caught.value.__cause__) == (1, [], exc)
