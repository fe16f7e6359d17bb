"""Vertex AI's prebuilt training containers, on which a trial runs its Python package (the package route).

From "Prebuilt containers for custom training" (cloud.google.com/vertex-ai/docs/training/pre-built-containers):
each image is served from us-, europe- and asia-docker.pkg.dev/vertex-ai/training/ ("each provides the same
container image"), and "Using image names without the latest tag isn't supported". The newest PyTorch images
listed there are 2.4 on Python 3.10: pytorch-xla (CPU) and pytorch-gpu (CUDA 12). The page gives each an end
of availability (2.4: 2026-07-24): when Google lists newer ones, change PYTORCH here; a spec can name another
in ``vertex.executor_image``. Every prebuilt training container includes cloudml-hypertune.
"""

from __future__ import annotations

import re

PYTORCH = {"cpu": "pytorch-xla.2-4.py310", "gpu": "pytorch-gpu.2-4.py310"}
PYTHON = "3.10"  # the prebuilt PyTorch images' Python: a trainer package must install and run on it
HOSTS = {"us": "us-docker.pkg.dev", "europe": "europe-docker.pkg.dev", "asia": "asia-docker.pkg.dev"}
PREBUILT_IMAGE = re.compile(r"(?:(?:us|europe|asia)-docker\.pkg\.dev/vertex-ai|(?:us\.|eu\.|asia\.)?gcr\.io/"
                            r"cloud-aiplatform)/training/[a-z0-9][a-z0-9._-]*:latest")


def executor_image(region: str, gpus: bool) -> str:
    """The prebuilt PyTorch container for a trial in ``region``, its GPU build when the trial has GPUs, from the
    host of the region's continent (us- for regions elsewhere: any host serves the same image)."""
    host = HOSTS.get(region.split("-", 1)[0], HOSTS["us"])
    return f"{host}/vertex-ai/training/{PYTORCH['gpu' if gpus else 'cpu']}:latest"
