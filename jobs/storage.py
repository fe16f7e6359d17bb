"""Many small objects at once: bounded concurrent reads and folder listing, local or ``gs://``.

A sweep leaves one folder per trial; reading them one by one pays a round trip per object (the seed
lesson's loop). ``fetch_many`` reads them with a bounded thread pool over one shared
google-cloud-storage client whose connection pool is sized to the workers, so connections are reused
instead of reopened. A missing or unreadable object is reported for that object alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trainer import uri

WORKERS = 32  # concurrent reads: enough to hide GCS latency (tens of ms) without a burst of sockets


def fetch_many(uris: Iterable[str], workers: int = WORKERS) -> dict[str, bytes | Exception]:
    """Read every object; maps each URI to its bytes, or to the exception that reading it raised
    (``trainer.uri.ObjectNotFound`` when it does not exist). Never raises for one object."""
    wanted = list(dict.fromkeys(uris))
    if not wanted:
        return {}
    if any(uri.is_gcs(u) for u in wanted):
        _size_connection_pool(workers)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted))), thread_name_prefix="fetch") as pool:
        return dict(zip(wanted, pool.map(_read, wanted)))


def _read(location: str) -> bytes | Exception:
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    try:
        return uri.read_bytes(location)
    except (DefaultCredentialsError, RefreshError):
        raise  # no login: every object would fail the same way, so the whole batch does
    except Exception as exc:  # one object's failure is that object's result, not the batch's
        return exc


def _size_connection_pool(workers: int) -> None:
    """Let the shared client's HTTP session keep ``workers`` connections per host (requests keeps 10)."""
    import requests.adapters

    session = uri.gcs_client()._http
    for scheme in ("https://", "http://"):
        adapter = session.get_adapter(scheme)
        if getattr(adapter, "_pool_maxsize", 0) < workers:
            session.mount(scheme, requests.adapters.HTTPAdapter(pool_connections=workers, pool_maxsize=workers,
                                                                max_retries=adapter.max_retries))


def list_folders(base: str) -> list[str]:
    """Names of the folders directly under a local folder or a ``gs://`` prefix, sorted
    (on GCS: one listing with delimiter "/", so objects deeper down are never enumerated)."""
    if not uri.is_gcs(base):
        root = Path(base)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    bucket, key = uri.split_gcs(base)
    prefix = key.rstrip("/") + "/" if key.strip("/") else ""
    blobs = uri.gcs_client().list_blobs(bucket, prefix=prefix, delimiter="/")
    folders: set[str] = set()
    for page in blobs.pages:
        folders.update(page.prefixes)
    return sorted(p[len(prefix):].rstrip("/") for p in folders)
