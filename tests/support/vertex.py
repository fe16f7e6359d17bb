"""The Vertex AI backend's test helpers: stack outputs, specs, the backend pointed at the JobService stand-in."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import yaml
from google.api_core.retry import Retry
from rich.console import Console

from jobs.cloud.google import RETRY
from jobs.vertex.client import ApiSettings
from tests.support.helpers import REPO
from tests.support.vertex_standin import VertexStandIn

TOY = [sys.executable, str(REPO / "tests" / "support" / "toy_trainer.py")]
DIGEST = "sha256:" + "0123456789abcdef" * 4
# A day on which the package route's default containers (PyTorch 2.4, end of availability 2026-07-24, more than 90
# days ahead) and every GPU the tests name were served: the stand-in and backend_for run as of it, so the suite
# does not change with the calendar; tests of the dated rules name their own dates.
SERVED = dt.date(2026, 4, 1)
FAST = RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(5.0)


def outputs_for(bucket: str, **changes) -> dict:
    """Stack outputs as `pulumi stack output --json` prints them for team "vision" in project acme-ml."""
    return {"project": "acme-ml", "region": "us-central1", "bucket": bucket, "data_root": f"gs://{bucket}/data",
            "artifacts_root": f"gs://{bucket}/artifacts", "staging": f"gs://{bucket}/staging",
            "trainer_service_account": "vision-trainer@acme-ml.iam.gserviceaccount.com",
            "image": f"us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer@{DIGEST}",
            "repository": "us-central1-docker.pkg.dev/acme-ml/vision-sweeps", **changes}


def write_outputs(path: Path, bucket: str = "acme-sweeps", **changes) -> Path:
    path.write_text(json.dumps(outputs_for(bucket, **changes)))
    return path


def write_spec(path: Path, **fields) -> Path:
    """A spec for the toy trainer (tests/support/toy_trainer.py, the stand-in's entrypoint): minimise loss over x in
    [-3, 3]."""
    spec = {"name": "toy", "metric": {"id": "loss", "goal": "minimize"},
            "parameters": {"x": {"type": "double", "min": -3.0, "max": 3.0}},
            "algorithm": "random", "trials": {"max": 3, "parallel": 2},
            "trainer": {"command": TOY, "args": ["--steps=3"]}, **fields}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def read(console: Console) -> str:
    console.file.flush()
    return Path(console.file.name).read_text()


def backend_for(standin: VertexStandIn, retry: Retry = FAST):
    """The Vertex AI backend pointed at the stand-in."""
    from jobs.vertex.backend import VertexBackend

    return VertexBackend(settings_for(standin, retry), today=SERVED)


def settings_for(standin: VertexStandIn, retry: Retry = FAST) -> ApiSettings:
    from google.auth.credentials import AnonymousCredentials

    return ApiSettings(credentials=AnonymousCredentials(), api_endpoint=standin.url, registry_endpoint=standin.url,
                       retry=retry, poll_s=0.05, min_trial_timeout_s=1.0)  # the stand-in's trials take seconds
