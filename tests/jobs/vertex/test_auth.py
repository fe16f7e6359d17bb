"""Missing or expired Google Cloud credentials, as a user meets them: one line, exit 1, no traceback, on
tune, status, cancel and report of a Vertex AI run.

The refused login is real: user credentials (what `gcloud auth application-default login` leaves) whose
token endpoint, the stand-in's ``/token``, answers ``invalid_grant`` as Google's does for an expired or
revoked grant, so google.auth raises its own RefreshError. Missing credentials are a real process with
GOOGLE_APPLICATION_CREDENTIALS naming no file.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from jobs.run.folder import RunFolder
from jobs.vertex.backend import VertexRun
from tests.support.helpers import invoke
from tests.support.vertex import write_outputs, write_spec
from tests.support.vertex_standin import VertexStandIn

LOGIN_HINT = "run `gcloud auth application-default login`"


@pytest.fixture
def workdir(tmp_path):
    """A folder with a spec, stack outputs and a Vertex AI run record, as a user's checkout has them."""
    spec = write_spec(tmp_path / "spec.yaml")
    write_outputs(tmp_path / "outputs.json")
    RunFolder.create(spec, VertexRun(
        run_id="toy-1", backend="vertex", spec="spec.yaml", data_root="gs://acme-sweeps/data", project="acme-ml",
        region="us-central1", job="projects/acme-ml/locations/us-central1/hyperparameterTuningJobs/1000", trials=3,
        parallel=2, trainer_service_account="vision-trainer@acme-ml.iam.gserviceaccount.com"), tmp_path / "runs")
    return tmp_path


def invoke_with(credentials: str, cwd, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": credentials, "GOOGLE_CLOUD_PROJECT": "acme-ml"}
    return invoke(*args, cwd=cwd, env=env, timeout=120)


COMMANDS = [("tune", "--backend", "vertex", "--spec", "spec.yaml", "--outputs", "outputs.json", "--detach"),
            ("status", "toy-1"), ("cancel", "toy-1"), ("report", "--run-id", "toy-1")]


@pytest.mark.parametrize("action", ["tune", "status", "cancel", "report"])
def test_an_expired_login_is_one_line(workdir, action):
    """The task boundary (tasks.flags.guarded) over the real commands, with user credentials whose refresh the
    token endpoint refuses: google.auth's own RefreshError becomes one line and exit status 1."""
    from google.oauth2.credentials import Credentials
    from invoke import Exit
    from rich.console import Console

    from jobs.report import report
    from jobs.vertex.backend import VertexBackend
    from jobs.vertex.client import ApiSettings
    from tasks.flags import guarded
    from tests.support.sweeps import on_run, tune_with

    runs, console = workdir / "runs", Console(file=open(os.devnull, "w"))
    with VertexStandIn(workdir / "vertex") as vertex:
        expired = Credentials(token=None, refresh_token="expired", client_id="id", client_secret="secret",
                              token_uri=f"{vertex.url}/token")
        chosen = VertexBackend(ApiSettings(credentials=expired, api_endpoint=vertex.url))
        calls = {
            "tune": lambda: tune_with(chosen, str(workdir / "spec.yaml"), outputs=str(workdir / "outputs.json"),
                                      detach=True, runs_dir=runs, console=console),
            "status": lambda: on_run(chosen, "status", "toy-1", console, runs),
            "cancel": lambda: on_run(chosen, "cancel", "toy-1", console, runs),
            "report": lambda: report(["toy-1"], latest=False, out=None, runs_dir=runs, console=console,
                                     choose=lambda name: chosen),
        }
        with pytest.raises(Exit) as caught:
            guarded(action, calls[action])
        assert not [r for r in vertex.requests if "hyperparameterTuningJobs" in r[1]]  # refused before any call
    assert caught.value.code == 1
    message = str(caught.value.message)
    assert "\n" not in message and message.startswith(f"{action}: your Google Cloud login has expired or was revoked")
    assert "Token has been expired or revoked." in message and LOGIN_HINT in message


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_no_credentials_is_one_line(workdir, command):
    done = invoke_with(str(workdir / "missing.json"), workdir, *command)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"{command[0]}: no Google Cloud credentials found: {LOGIN_HINT}, or set "
                     "GOOGLE_APPLICATION_CREDENTIALS to a service account key file"], done.stderr
