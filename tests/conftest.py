"""Shared fixtures: small synthetic data, the Titanic split when present, a GCS emulator."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.helpers import TITANIC_TRAIN, free_port, make_split


@pytest.fixture
def small_data(tmp_path) -> tuple[Path, Path]:
    return make_split(tmp_path / "data")


@pytest.fixture
def titanic_csv() -> Path:
    if not TITANIC_TRAIN.exists():
        pytest.skip(f"{TITANIC_TRAIN} not present")
    return TITANIC_TRAIN


@pytest.fixture(scope="session")
def gcs_emulator():
    """gcp-storage-emulator served in-process; yields its URL (set as STORAGE_EMULATOR_HOST)."""
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    from jobs.cloud import storage
    from trainer import uri

    clients = (uri.gcs_client, storage.gcs_client)  # the trainer's and the platform's
    for client in clients:
        client.cache_clear()
    yield url
    server.stop()
    for client in clients:
        client.cache_clear()
    if saved is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = saved


@pytest.fixture
def bucket(gcs_emulator, request) -> str:
    """A fresh, empty bucket on the emulator; yields its name."""
    from jobs.cloud import storage

    name = ("test-" + re.sub("[^a-z0-9-]", "-", request.node.name.lower()))[:60].strip("-")
    client = storage.gcs_client()
    existing = client.lookup_bucket(name)
    if existing is not None:
        for blob in client.list_blobs(name):
            blob.delete()
    else:
        client.create_bucket(name)
    return name
