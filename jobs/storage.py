"""Where the platform reads and writes: a local path or a ``gs://bucket/key`` URI, whole objects at a time.

This is the one home of storage paths in ``jobs`` (the trainer, which runs alone in its container,
keeps its own few lines in ``trainer/uri.py``). It is built on google-cloud-storage, which the
aiplatform SDK brings anyway and which ``gcp-storage-emulator`` serves in tests; fsspec with gcsfs was
not chosen: it adds an aiohttp client beside it, and gcsfs falls back to anonymous access when no
credentials are found, which would turn "not logged in" into a 403 on each object.

Many small objects at once: bounded concurrent reads.

A sweep leaves one folder per trial; reading them one by one pays a round trip per object (the seed
lesson's loop). ``fetch_many`` reads them with a bounded thread pool over one shared
google-cloud-storage client whose connection pool is sized to the workers, so connections are reused
instead of reopened. A missing or unreadable object is reported for that object alone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKERS = 32  # concurrent reads: enough to hide GCS latency (tens of ms) without a burst of sockets


class ObjectNotFound(FileNotFoundError):
    """The file or object at a URI does not exist."""


def is_gcs(location: str) -> bool:
    return str(location).startswith("gs://")


def join(base: str, *names: str) -> str:
    """Join path parts onto a local folder or a ``gs://`` prefix."""
    if is_gcs(base):
        return "/".join([base.rstrip("/"), *(n.strip("/") for n in names)])
    return str(Path(base, *names))


@functools.cache
def gcs_client():
    """One google-cloud-storage client per process (it honours ``STORAGE_EMULATOR_HOST``)."""
    from google.cloud import storage

    return storage.Client()


def _blob(location: str):
    from google.cloud.storage import Blob

    return Blob.from_uri(location, client=gcs_client())


def read_bytes(location: str) -> bytes:
    """The whole file or object; ObjectNotFound when there is none."""
    if is_gcs(location):
        from google.api_core.exceptions import NotFound

        try:
            return _blob(location).download_as_bytes()
        except NotFound:
            raise ObjectNotFound(f"{location}: no such object") from None
    try:
        return Path(location).read_bytes()
    except FileNotFoundError:
        raise ObjectNotFound(f"{location}: no such file") from None


def write_bytes(location: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    """Write a whole file (its folder made) or object."""
    if is_gcs(location):
        _blob(location).upload_from_string(data, content_type=content_type)
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def fetch_many(uris: Iterable[str], workers: int = WORKERS) -> dict[str, bytes | Exception]:
    """Read every object; maps each URI to its bytes, or to the exception that reading it raised
    (``ObjectNotFound`` when it does not exist). Never raises for one object."""
    wanted = list(dict.fromkeys(uris))
    if not wanted:
        return {}
    if any(is_gcs(u) for u in wanted):
        _size_connection_pool(workers)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted))), thread_name_prefix="fetch") as pool:
        return dict(zip(wanted, pool.map(_read, wanted)))


def _read(location: str) -> bytes | Exception:
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    try:
        return read_bytes(location)
    except (DefaultCredentialsError, RefreshError):
        raise  # no login: every object would fail the same way, so the whole batch does
    except Exception as exc:  # one object's failure is that object's result, not the batch's
        return exc


def _size_connection_pool(workers: int) -> None:
    """Let the shared client's HTTP session keep ``workers`` connections per host (requests keeps 10)."""
    import requests.adapters

    session = gcs_client()._http
    for scheme in ("https://", "http://"):
        adapter = session.get_adapter(scheme)
        if getattr(adapter, "_pool_maxsize", 0) < workers:
            session.mount(scheme, requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers,
                                                                max_retries=adapter.max_retries))
