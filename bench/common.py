"""Helpers shared by the benchmarks: data to measure on and a median timer."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TITANIC = REPO.parent / "shared" / "data" / "titanic_train.csv"


def prepare_data(out: Path) -> str:
    """The lesson's Titanic split when ../shared/data has it, else the built-in dataset."""
    from jobs.data import prepare_to

    if TITANIC.exists():
        prepare_to(str(out), str(TITANIC), "Survived")
        return f"Titanic split ({TITANIC})"
    prepare_to(str(out))
    return "built-in dataset (Titanic CSV not found)"


def median_wall(command: list[str], repeat: int, **kwargs) -> float:
    """Median wall seconds of ``command`` run ``repeat`` times as a fresh process."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


PYTHON = sys.executable
