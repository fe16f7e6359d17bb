"""What many tests use: the repository, small data, `invoke` as a user runs it, the example trainer, pip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
TITANIC_TRAIN = SHARED_DATA / "titanic_train.csv"
TOY_TRAINER = REPO / "tests" / "support" / "toy_trainer.py"  # a trainer of a known function, for fast sweeps


def make_split(path: Path, rows: int = 200, features: int = 5, seed: int = 0, noise: float = 0.3) -> tuple[Path, Path]:
    """A small, learnable binary problem written as the trainer's two .npz files."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    w = rng.normal(size=features)
    y = ((X @ w + noise * rng.normal(size=rows)) > 0).astype(np.float32)
    cut = int(rows * 0.8)
    path.mkdir(parents=True, exist_ok=True)
    train, val = path / "train_data.npz", path / "val_data.npz"
    np.savez(train, X_train=X[:cut], y_train=y[:cut])
    np.savez(val, X_val=X[cut:], y_val=y[cut:])
    return train, val


INVOKE = [sys.executable, "-m", "invoke", "--search-root", str(REPO)]  # the tasks, as a user runs them from any folder


def invoke(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 300,
           root: Path = REPO) -> subprocess.CompletedProcess:
    """``invoke ARGS`` as a real process started in ``cwd`` (the tasks of ``root``, a copy of the repository where
    a test needs one), its output captured as text."""
    command = [*INVOKE[:-1], str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def copy_example_trainer(to: Path, trials: dict | None = None) -> Path:
    """A copy of examples/logistic-trainer at ``to`` (without build leftovers), its spec's ``trials`` replaced
    when given; returns ``to``."""
    import shutil

    import yaml

    shutil.copytree(REPO / "examples" / "logistic-trainer", to,
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    if trials is not None:
        spec = yaml.safe_load((to / "spec.yaml").read_text())
        (to / "spec.yaml").write_text(yaml.safe_dump(spec | {"trials": trials}))
    return to


def run_trainer(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m trainer`` as a real subprocess (as a trial runs it)."""
    return subprocess.run([sys.executable, "-m", "trainer", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def pip_install(python: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """``pip install ARGS`` into the environment of ``python``, by uv when this environment has it (the Makefile
    installs it: same packages, same standards, a fraction of the time), else by pip."""
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        links = ["--find-links", os.environ["PIP_FIND_LINKS"]] if os.environ.get("PIP_FIND_LINKS") else []
        command = [str(uv), "pip", "install", "--python", str(python), *links, *args]
    else:
        command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-input",
                   "--disable-pip-version-check", *args]
    return subprocess.run(command, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


