"""Keeping a run's image: tag it ``run-<run id>`` in Artifact Registry before the job is submitted.

The stack's cleanup policy keeps every version tagged ``run-*`` (infra/project.py), so a long sweep, a
resumed one or a re-submitted one still finds the digest it names after newer images have pushed it out of
the newest few. REST: ``POST v1/{parent=projects/*/locations/*/repositories/*/packages/*}/tags?tagId=...``
with ``{"name": ..., "version": ".../versions/sha256:..."}``; a package name's slashes are escaped (%2F).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from google.api_core import exceptions as api
from google.api_core.retry import Retry
from google.auth.credentials import Credentials

from infra.config import RUN_TAG_PREFIX
from jobs.cloud.google import Context, GoogleApiError, call_with_retry

REGISTRY = "https://artifactregistry.googleapis.com"
IMAGE = re.compile(r"(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repository>[^/]+)/"
                   r"(?P<package>[^@]+)@(?P<digest>sha256:[0-9a-f]{64})")


def run_tag(run_id: str) -> str:
    return f"{RUN_TAG_PREFIX}{run_id}"


def keep_image(image: str, run_id: str, credentials: Credentials, context: Context, retry: Retry,
               endpoint: str | None = None) -> str | None:
    """Tag ``image`` (an Artifact Registry reference by digest) for the run; returns a warning when it could
    not be done (the sweep still runs; the image is then only as safe as the newest-N rule keeps it)."""
    from google.auth.transport.requests import AuthorizedSession

    match = IMAGE.fullmatch(image)
    if match is None:
        return f"the image {image} is not in Artifact Registry: not tagged for run {run_id}"
    package = (f"projects/{match['project']}/locations/{match['location']}/repositories/{match['repository']}"
               f"/packages/{quote(match['package'], safe='')}")
    tag = run_tag(run_id)
    session = AuthorizedSession(credentials)

    def create() -> None:
        body = {"name": f"{package}/tags/{tag}", "version": f"{package}/versions/{match['digest']}"}
        response = session.post(f"{(endpoint or REGISTRY).rstrip('/')}/v1/{package}/tags", params={"tagId": tag},
                                json=body, timeout=60)
        if response.status_code == 409:  # ALREADY_EXISTS: a re-submitted run tagged it before
            return
        if response.status_code >= 400:
            raise api.from_http_response(response)

    try:
        call_with_retry(create, f"tagging {image} as {tag}", context, retry)
    except GoogleApiError as exc:
        return (f"could not tag the image as {tag} ({exc.__cause__ or exc}); the registry's cleanup may delete "
                "it once newer images are pushed: `invoke infra.up` grants launchers the tagger role")
    return None
