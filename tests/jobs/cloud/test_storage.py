"""gs:// access that cannot work, as one line: credentials without a project, and Cloud Storage not answering.

Nothing here needs the network: a user's login without a project fails before the client sends any request,
and "not answering" is a storage emulator address where nothing listens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs.cloud import storage
from jobs.errors import ServiceError, UserError
from tests.support.helpers import REPO, free_port, invoke
from trainer import uri

PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT",
               "STORAGE_EMULATOR_HOST")
NO_PROJECT = ("gs:// access found Google Cloud credentials but no project to use them with: set GOOGLE_CLOUD_PROJECT "
              "to the project's id, or run `gcloud config set project PROJECT_ID`, then run the same command again")


@pytest.fixture
def login_without_project(tmp_path) -> dict[str, str]:
    """An environment whose credentials are a user's login (as `gcloud auth application-default login` writes it,
    with made-up values) and which names no project anywhere."""
    login = tmp_path / "login.json"
    login.write_text(json.dumps({"type": "authorized_user", "client_id": "made-up.apps.googleusercontent.com",
                                 "client_secret": "made-up", "refresh_token": "made-up"}))
    (tmp_path / "gcloud").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in PROJECT_ENV}
    return env | {"GOOGLE_APPLICATION_CREDENTIALS": str(login), "CLOUDSDK_CONFIG": str(tmp_path / "gcloud")}


def test_credentials_without_a_project_are_one_line(login_without_project, tmp_path):
    done = invoke("data", "--csv", "gs://some-bucket/table.csv", "--target", "y", cwd=tmp_path,
                  env=login_without_project)
    assert (done.returncode, done.stderr) == (1, f"data: {NO_PROJECT}\n"), done
    trained = subprocess.run([sys.executable, "-m", "trainer", "--train=gs://some-bucket/train_data.npz",
                              "--val=gs://some-bucket/val_data.npz"], capture_output=True, text=True, cwd=REPO,
                             env=login_without_project, timeout=120)
    assert (trained.returncode, trained.stderr) == (1, f"trainer: error: {NO_PROJECT}\n"), trained


@pytest.fixture
def nobody_answers(monkeypatch) -> str:
    """A storage emulator address where nothing listens, and a short deadline; yields the address."""
    address = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", address)
    monkeypatch.setenv(storage.DEADLINE_ENV, "0.5")
    storage.gcs_client.cache_clear()
    uri.gcs_client.cache_clear()
    yield address
    storage.gcs_client.cache_clear()
    uri.gcs_client.cache_clear()


def _no_answer(location: str, address: str) -> str:
    return (f"{location}: no answer from the storage emulator at {address} within 0.5 s (ConnectionError): check "
            f"STORAGE_EMULATOR_HOST and the emulator, then run the same command again ({storage.DEADLINE_ENV} sets "
            "how long to retry)")


@pytest.mark.parametrize("call", [
    lambda: storage.read_bytes("gs://b/a.json"),
    lambda: storage.fetch_many(["gs://b/a.json", "gs://b/b.json"]),
    lambda: storage.write_bytes("gs://b/a.json", b"{}"),
    lambda: storage.exists("gs://b/a.json"),
])
def test_a_call_cloud_storage_never_answers_ends_at_the_deadline_as_one_line(nobody_answers, call):
    with pytest.raises(ServiceError) as failed:
        call()
    assert str(failed.value) == _no_answer("gs://b/a.json", nobody_answers)


def test_invoke_reading_from_cloud_storage_that_never_answers_is_one_line(nobody_answers, tmp_path):
    done = invoke("data", "--csv", "gs://b/table.csv", "--target", "y", cwd=tmp_path, env=dict(os.environ))
    assert (done.returncode, done.stderr) == (1, f"data: {_no_answer('gs://b/table.csv', nobody_answers)}\n"), done


def test_a_trainer_reading_from_cloud_storage_that_never_answers_is_one_line(nobody_answers):
    """The trainer keeps the library's 120 s by default (a trial on Vertex AI rides out a short outage)."""
    assert uri.DEADLINE_S == 120 and uri.DEADLINE_ENV == storage.DEADLINE_ENV
    trained = subprocess.run([sys.executable, "-m", "trainer", "--train=gs://b/train_data.npz",
                              "--val=gs://b/val_data.npz"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert (trained.returncode, trained.stderr) == (
        1, "trainer: error: gs://b/train_data.npz: no answer from Cloud Storage (RetryError): check the network (or "
           "STORAGE_EMULATOR_HOST), then run the trainer again\n"), trained


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf", "nan"])
def test_a_deadline_that_is_no_positive_number_is_refused(monkeypatch, value):
    monkeypatch.setenv(storage.DEADLINE_ENV, value)
    with pytest.raises(UserError, match=f"{storage.DEADLINE_ENV}='{value}' must be a positive number of seconds"):
        storage.deadline()
