"""Where the platform reads and writes: a local path or a ``gs://bucket/key`` URI, whole objects at a time.

This is the one home of storage paths in ``jobs`` (the trainer, which runs alone in its container,
keeps its own few lines in ``trainer/uri.py``). It is built on google-cloud-storage, which the
aiplatform SDK brings anyway and which ``gcp-storage-emulator`` serves in tests; fsspec with gcsfs was
not chosen: it adds an aiohttp client beside it, and gcsfs falls back to anonymous access when no
credentials are found, which would turn "not logged in" into a 403 on each object.

Many small objects at once: a sweep leaves one folder per trial, and reading them one by one pays a round
trip per object (a loop over the trial folders). ``fetch_many`` reads ``gs://`` objects with google-cloud-storage's
``transfer_manager.download_many`` (worker threads over the one shared client) and local files with a
thread pool. A missing or unreadable object is reported for that object alone; missing or refused
credentials fail the whole batch.

Its threads share the client's HTTP session, whose pool keeps 10 connections per host (requests'
default): connections beyond those are opened for one request and closed after it, 50-80 per 1,000
objects at 32 workers. On bench/report.py's emulator the collector stayed within run-to-run noise of the
pool sized to the workers through the client's private session, which this replaced (fetch_many alone,
side by side: 2-7% longer). One client per worker thread measured the same within noise but adds a login
and a bucket lookup per thread and batch; ten workers, the pool's size, were slower than all of these.

Each object call retries transient errors (google-cloud-storage's own DEFAULT_RETRY: 429, 5xx, a refused or
dropped connection) for at most ``SWEEPS_GCS_DEADLINE_S`` seconds (default 30; the library's own is 120),
and no one request waits longer; then it fails with one line naming the URI and what to check.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from jobs.errors import ServiceError, UserError

T = TypeVar("T")
WORKERS = 32  # concurrent reads: enough to hide GCS latency (tens of ms) without a burst of sockets
DEADLINE_ENV = "SWEEPS_GCS_DEADLINE_S"
DEADLINE_S = 30.0  # seconds one object call keeps retrying, unless DEADLINE_ENV says otherwise


class ObjectNotFound(FileNotFoundError):
    """The file or object at a URI does not exist."""


def is_gcs(location: str) -> bool:
    return str(location).startswith("gs://")


def join(base: str, *names: str) -> str:
    """Join path parts onto a local folder or a ``gs://`` prefix."""
    return "/".join([base.rstrip("/"), *(n.strip("/") for n in names)]) if is_gcs(base) else str(Path(base, *names))


def _blob(location: str):
    """The object a ``gs://bucket/key`` URI names, on the shared client."""
    from google.cloud.storage import Blob

    return Blob.from_uri(location, client=gcs_client())


@functools.cache
def gcs_client():
    """One google-cloud-storage client per process (it honours ``STORAGE_EMULATOR_HOST``)."""
    try:
        from google.cloud import storage
    except ModuleNotFoundError:  # the vertex extra (pyproject.toml) brings it
        raise UserError("gs:// locations need google-cloud-storage, which this environment lacks: `make install` "
                        "installs it (or pip install -e '.[vertex]')") from None

    try:
        return storage.Client()
    except OSError as exc:  # google.cloud.client.ClientWithProject: "Project was not passed and could not be ..."
        if "Project was not passed" not in str(exc):
            raise
        raise ServiceError("gs:// access found Google Cloud credentials but no project to use them with: set "
                           "GOOGLE_CLOUD_PROJECT to the project's id, or run `gcloud config set project "
                           "PROJECT_ID`, then run the same command again") from None


def deadline() -> float:
    """Seconds one object call keeps retrying: ``SWEEPS_GCS_DEADLINE_S`` when set, else DEADLINE_S."""
    value = os.environ.get(DEADLINE_ENV)
    if value is None:
        return DEADLINE_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise UserError(f"{DEADLINE_ENV}={value!r} must be a positive number of seconds: fix it, or unset it for "
                        f"{DEADLINE_S:g} s")
    return seconds


def _call_options() -> dict[str, Any]:
    """``retry`` and ``timeout`` for an object call: the library's retrying, stopped at the deadline, and no one
    request waiting longer."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    seconds = deadline()
    return {"retry": DEFAULT_RETRY.with_timeout(seconds), "timeout": seconds}


def _no_answer(location: str, exc: BaseException) -> ServiceError | None:
    """A call Cloud Storage never answered (retried to the deadline, or a connection refused, dropped or timed
    out) as one line naming ``location``; None for any other error."""
    import requests
    from google.api_core.exceptions import RetryError
    from google.auth.exceptions import TransportError

    if not isinstance(exc, RetryError | ConnectionError | requests.ConnectionError | requests.Timeout | TransportError):
        return None
    last = exc.cause if isinstance(exc, RetryError) and exc.cause else exc
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    where, check = ((f"the storage emulator at {emulator}", "STORAGE_EMULATOR_HOST and the emulator") if emulator
                    else ("Cloud Storage", "the network connection"))
    return ServiceError(f"{location}: no answer from {where} within {deadline():g} s ({type(last).__name__}): check "
                        f"{check}, then run the same command again ({DEADLINE_ENV} sets how long to retry)")


def _answered(location: str, call: Callable[[], T]) -> T:
    """``call()``, a call to Cloud Storage about ``location``; one that got no answer raises a ServiceError."""
    try:
        return call()
    except Exception as exc:
        problem = _no_answer(location, exc)
        if problem is None:
            raise
        raise problem from None


def read_bytes(location: str) -> bytes:
    """The whole file or object; ObjectNotFound when there is none (read as fetch_many reads each one)."""
    fetched = fetch_many([location], workers=1)[location]
    if isinstance(fetched, Exception):
        raise fetched
    return fetched


def exists(location: str) -> bool:
    """Whether the file or object is there."""
    if is_gcs(location):
        return _answered(location, lambda: _blob(location).exists(**_call_options()))
    return Path(location).exists()


def write_bytes(location: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    """Write a whole file (its folder made) or object."""
    if is_gcs(location):
        _answered(location, lambda: _blob(location).upload_from_string(data, content_type=content_type,
                                                                       **_call_options()))
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def fetch_many(uris: Iterable[str], workers: int = WORKERS) -> dict[str, bytes | Exception]:
    """Read every object; maps each URI to its bytes, or to the exception that reading it raised
    (``ObjectNotFound`` when it does not exist). Never raises for one object; raises
    DefaultCredentialsError or RefreshError when there is no usable login, and ServiceError when Cloud Storage
    does not answer."""
    wanted = list(dict.fromkeys(uris))
    on_gcs = [u for u in wanted if is_gcs(u)]
    local = [u for u in wanted if not is_gcs(u)]
    fetched = dict(zip(on_gcs, _download_many(on_gcs, workers))) if on_gcs else {}
    if local:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(local))), thread_name_prefix="fetch") as pool:
            fetched.update(zip(local, pool.map(_read_local, local)))
    return {u: fetched[u] for u in wanted}


def _download_many(locations: list[str], workers: int) -> list[bytes | Exception]:
    from google.api_core.exceptions import NotFound
    from google.auth.exceptions import DefaultCredentialsError, RefreshError
    from google.cloud.storage import transfer_manager

    gcs_client()  # DefaultCredentialsError here: no login at all
    buffers = [io.BytesIO() for _ in locations]
    results = transfer_manager.download_many(list(zip(map(_blob, locations), buffers)),
                                             download_kwargs=_call_options(), worker_type=transfer_manager.THREAD,
                                             max_workers=max(1, min(workers, len(locations))), raise_exception=False)
    fetched: list[bytes | Exception] = []
    for location, buffer, result in zip(locations, buffers, results):
        if isinstance(result, DefaultCredentialsError | RefreshError):
            raise result  # a refused login: every object fails the same way, so the whole batch does
        if problem := _no_answer(location, result):
            raise problem  # likewise no answer
        if isinstance(result, NotFound):
            result = ObjectNotFound(f"{location}: no such object")
        fetched.append(result if isinstance(result, Exception) else buffer.getvalue())
    return fetched


def _read_local(location: str) -> bytes | Exception:
    try:
        return Path(location).read_bytes()
    except FileNotFoundError:
        return ObjectNotFound(f"{location}: no such file")
    except Exception as exc:  # one file's failure is that file's result, not the batch's
        return exc
