"""Read and write whole objects at a local path or a ``gs://bucket/key`` URI.

google-cloud-storage is imported only when a ``gs://`` URI is used, so a local trial never pays
for it.
"""

from __future__ import annotations

import functools
from pathlib import Path


class ObjectNotFound(FileNotFoundError):
    """The file or object at a URI does not exist."""


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
    """One google-cloud-storage client per process (honours ``STORAGE_EMULATOR_HOST``)."""
    from google.cloud import storage

    return storage.Client()


def read_bytes(uri: str) -> bytes:
    if is_gcs(uri):
        from google.api_core.exceptions import NotFound

        bucket, key = split_gcs(uri)
        try:
            return gcs_client().bucket(bucket).blob(key).download_as_bytes()
        except NotFound:
            raise ObjectNotFound(f"{uri}: no such object") from None
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise ObjectNotFound(f"{uri}: no such file") from None


def write_bytes(uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    if is_gcs(uri):
        bucket, key = split_gcs(uri)
        gcs_client().bucket(bucket).blob(key).upload_from_string(data, content_type=content_type)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_text(uri: str, text: str, content_type: str = "text/plain") -> None:
    write_bytes(uri, text.encode("utf-8"), content_type=content_type)
