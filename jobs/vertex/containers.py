"""Vertex AI's prebuilt training containers, on which a trial runs its Python package (the package route).

``IMAGES`` is Google's table of prebuilt training containers (SOURCE): each image's framework, whether it is
the CUDA build, its end of patch and its end of availability. Google's framework support policy (POLICY):
"After [the end-of-availability] date, you can no longer use images for this framework version. Services might
block the creation of new resources using these images, and the images are no longer available for download."
A sweep whose container is past that date is refused on dry run and submission, and warned about within 90 days
of it (jobs/vertex/routes.py). The rows kept are the Python 3.10 CPU and GPU images of PyTorch, TensorFlow,
scikit-learn and XGBoost; the page's TPU rows (TPUs are refused here), its Python 3.7 rows (past availability
since 2024) and its Ray rows (images for Ray clusters on Vertex AI, not a framework a trainer package runs on)
are left out.

Hosts: "Each of the following container images is available in several Artifact Registry repositories ...
each provides the same container image": us-, europe- and asia-docker.pkg.dev/vertex-ai/training/. The page
lists no other host for any row (the gcr.io/cloud-aiplatform addresses of older copies are gone from it), so no
other is accepted. "Using image names without the latest tag isn't supported."
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

SOURCE = ("Google's \"Prebuilt containers for ... serverless training\" (docs.cloud.google.com/gemini-enterprise-"
          "agent-platform/machine-learning/training/pre-built-containers, formerly cloud.google.com/vertex-ai/docs/"
          "training/pre-built-containers), read 2026-12-05")
POLICY = "docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/framework-support-policy"
PYTHON = "3.10"  # every image in IMAGES runs Python 3.10: a trainer package must install and run on it
HOSTS = {"us": "us-docker.pkg.dev", "europe": "europe-docker.pkg.dev", "asia": "asia-docker.pkg.dev"}
PREBUILT_IMAGE = re.compile(r"(?:us|europe|asia)-docker\.pkg\.dev/vertex-ai/training/(?P<name>[a-z0-9][a-z0-9._-]*)"
                            r":latest")


@dataclass(frozen=True)
class Image:
    """One row of SOURCE's table."""

    framework: str
    gpu: bool  # the CUDA build ("GPU (CUDA 12.x)"); else "CPU only"
    end_of_patch: dt.date
    end_of_availability: dt.date  # the last day it may be used

    @property
    def gone(self) -> dt.date:
        """The first day it can no longer be used: the day after its end of availability."""
        return self.end_of_availability + dt.timedelta(days=1)


def _rows(framework: str, cpu: str, gpu: str, end_of_patch: str, end_of_availability: str) -> dict[str, Image]:
    """The CPU and GPU images of one framework version, with the dates the page gives both."""
    patch, available = dt.date.fromisoformat(end_of_patch), dt.date.fromisoformat(end_of_availability)
    return {cpu: Image(framework, False, patch, available), gpu: Image(framework, True, patch, available)}


# image name -> its row, as SOURCE gives it (framework, CPU image, GPU image, end of patch, end of availability)
IMAGES: dict[str, Image] = {
    **_rows("PyTorch 2.4", "pytorch-xla.2-4.py310", "pytorch-gpu.2-4.py310", "2025-07-24", "2026-07-24"),
    **_rows("PyTorch 2.3", "pytorch-xla.2-3.py310", "pytorch-gpu.2-3.py310", "2025-04-24", "2026-04-24"),
    # PyTorch 2.2: the page gives the CPU image a later end of availability than the GPU one, as kept here
    "pytorch-xla.2-2.py310": Image("PyTorch 2.2", False, dt.date(2025, 1, 30), dt.date(2026, 10, 23)),
    "pytorch-gpu.2-2.py310": Image("PyTorch 2.2", True, dt.date(2025, 1, 30), dt.date(2026, 1, 30)),
    **_rows("PyTorch 2.1", "pytorch-xla.2-1.py310", "pytorch-gpu.2-1.py310", "2024-10-04", "2025-10-04"),
    **_rows("PyTorch 2.0", "pytorch-xla.2-0.py310", "pytorch-gpu.2-0.py310", "2024-03-15", "2025-03-15"),
    **_rows("TensorFlow 2.17", "tf-cpu.2-17.py310", "tf-gpu.2-17.py310", "2025-07-11", "2026-07-11"),
    **_rows("TensorFlow 2.16", "tf-cpu.2-16.py310", "tf-gpu.2-16.py310", "2025-06-28", "2026-06-28"),
    **_rows("TensorFlow 2.15", "tf-cpu.2-15.py310", "tf-gpu.2-15.py310", "2024-11-14", "2025-11-14"),
    **_rows("TensorFlow 2.14", "tf-cpu.2-14.py310", "tf-gpu.2-14.py310", "2024-09-26", "2025-09-26"),
    **_rows("TensorFlow 2.13", "tf-cpu.2-13.py310", "tf-gpu.2-13.py310", "2024-07-05", "2025-07-05"),
    **_rows("scikit-learn 1.6", "sklearn-cpu.1-6", "sklearn-gpu.1-6", "2025-07-11", "2026-07-11"),
    **_rows("scikit-learn 1.0", "sklearn-cpu.1-0", "sklearn-gpu.1-0", "2024-06-30", "2025-06-30"),
    **_rows("XGBoost 2.1", "xgboost-cpu.2-1", "xgboost-gpu.2-1", "2025-07-11", "2026-07-11"),
    **_rows("XGBoost 1.6", "xgboost-cpu.1-6", "xgboost-gpu.1-6", "2024-06-30", "2025-06-30"),
}
PYTORCH = {"cpu": "pytorch-xla.2-4.py310", "gpu": "pytorch-gpu.2-4.py310"}  # the newest PyTorch rows: the default


def executor_image(region: str, gpus: bool) -> str:
    """The default container for a trial in ``region``: the newest prebuilt PyTorch image, its GPU build when
    the trial has GPUs, from the host of the region's continent (us- for regions elsewhere: any host serves the
    same image)."""
    return image_uri(PYTORCH["gpu" if gpus else "cpu"], region)


def image_uri(name: str, region: str = "us") -> str:
    """``name``'s address on the host of ``region``'s continent."""
    return f"{HOSTS.get(region.split('-', 1)[0], HOSTS['us'])}/vertex-ai/training/{name}:latest"


def image_name(uri: str) -> str | None:
    """The name of the image in IMAGES at address ``uri``; None for an address that is not one."""
    match = PREBUILT_IMAGE.fullmatch(uri)
    return match["name"] if match and match["name"] in IMAGES else None


def prebuilt_problem(uri: str) -> str | None:
    """Why ``uri`` is not the address of an image in IMAGES, naming the closest ones; None when it is."""
    if image_name(uri):
        return None
    name = uri.rsplit("/", 1)[-1].split(":", 1)[0]
    if name in IMAGES:
        return (f"{uri} is not an address Google serves it at: use {image_uri(name)} (or the europe- or asia- "
                "host); only the latest tag is supported")
    close = difflib.get_close_matches(name, IMAGES, n=4, cutoff=0.5)
    return (f"{uri} is not a prebuilt training image in jobs/vertex/containers.py ({SOURCE}); "
            + (f"closest: {', '.join(close)}" if close else f"images: {', '.join(IMAGES)}")
            + "; an image's address is us-, europe- or asia-docker.pkg.dev/vertex-ai/training/NAME:latest "
              "(if Google now lists it, add its row there)")


def served(gpus: bool, today: dt.date) -> list[str]:
    """The images for CPU or GPU trials still available on ``today``, the longest served first."""
    names = [name for name, image in IMAGES.items() if image.gpu == gpus and today < image.gone]
    return sorted(names, key=lambda name: IMAGES[name].end_of_availability, reverse=True)
