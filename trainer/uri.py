"""Read and write whole objects at a local path or a ``gs://bucket/key`` URI.

google-cloud-storage is imported only when a ``gs://`` URI is used, so a local trial never pays
for it.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path


class ObjectNotFound(FileNotFoundError):
    """The file or object at a URI does not exist."""


class StorageError(Exception):
    """Cloud Storage cannot be used as things stand (login, project, network); the message says what to do."""


class NoProject(StorageError):
    """Google Cloud credentials were found, but no project to use them with; the message says what to set."""


class Unreachable(StorageError):
    """Cloud Storage gave no answer within the deadline: an outage or no network."""


DEADLINE_ENV = "SWEEPS_GCS_DEADLINE_S"
DEADLINE_S = 120.0  # google-cloud-storage's own: a trial on Vertex AI rides out a short outage


def _call_options() -> dict:
    """``retry`` and ``timeout`` for one object call: the library's retrying for ``SWEEPS_GCS_DEADLINE_S``
    seconds (default 120)."""
    import math
    import os

    from google.cloud.storage.retry import DEFAULT_RETRY

    value = os.environ.get(DEADLINE_ENV, str(DEADLINE_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise StorageError(f"{DEADLINE_ENV}={value!r} must be a positive number of seconds: fix it, or unset it")
    return {"retry": DEFAULT_RETRY.with_timeout(seconds), "timeout": seconds}


def is_gcs(uri: str) -> bool:
    return str(uri).startswith("gs://")


def split_gcs(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``; the key may be empty."""
    if not is_gcs(uri):
        raise ValueError(f"not a gs:// URI: {uri}")
    bucket, _, key = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri}")
    return bucket, key


def join(base: str, *names: str) -> str:
    """Join path parts onto a local folder or a ``gs://`` prefix."""
    if is_gcs(base):
        return "/".join([base.rstrip("/"), *(n.strip("/") for n in names)])
    return str(Path(base, *names))


@functools.cache
def gcs_client():
    """One google-cloud-storage client per process (it honours ``STORAGE_EMULATOR_HOST``); NoProject when the
    credentials found come with no project (a user's login, say), which the client needs before any request."""
    from google.cloud import storage

    try:
        return storage.Client()
    except OSError as exc:  # google.cloud.client.ClientWithProject: "Project was not passed and could not be ..."
        if "Project was not passed" not in str(exc):
            raise
        raise NoProject("gs:// access found Google Cloud credentials but no project to use them with: set "
                        "GOOGLE_CLOUD_PROJECT to the project's id, or run `gcloud config set project PROJECT_ID`, "
                        "then run the same command again") from None


@contextlib.contextmanager
def _answered(uri: str):
    """Cloud Storage calls about ``uri``; one that got no answer raises Unreachable naming it."""
    import requests
    from google.api_core.exceptions import RetryError
    from google.auth.exceptions import TransportError

    try:
        yield
    except (RetryError, requests.ConnectionError, requests.Timeout, TransportError) as exc:
        raise Unreachable(f"{uri}: no answer from Cloud Storage ({type(exc).__name__}): check the network (or "
                          "STORAGE_EMULATOR_HOST), then run the trainer again") from None


def read_bytes(uri: str) -> bytes:
    if is_gcs(uri):
        from google.api_core.exceptions import NotFound

        bucket, key = split_gcs(uri)
        try:
            with _answered(uri):
                return gcs_client().bucket(bucket).blob(key).download_as_bytes(**_call_options())
        except NotFound:
            raise ObjectNotFound(f"{uri}: no such object") from None
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise ObjectNotFound(f"{uri}: no such file") from None


def write_bytes(uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    if is_gcs(uri):
        bucket, key = split_gcs(uri)
        with _answered(uri):
            gcs_client().bucket(bucket).blob(key).upload_from_string(data, content_type=content_type,
                                                                     **_call_options())
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_text(uri: str, text: str, content_type: str = "text/plain") -> None:
    write_bytes(uri, text.encode("utf-8"), content_type=content_type)
