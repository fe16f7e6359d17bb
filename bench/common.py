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
    from jobs.data.prepare import prepare_to

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


def local_sweep(spec: dict, run_id: str, tmp: Path, seed: int, warm: bool = True):
    """Run ``spec`` (a spec file's fields) as ``invoke tune`` would, in ``tmp`` with data in tmp/data;
    returns the loaded spec, the run's folder and its trial records."""
    import yaml
    from rich.console import Console

    from jobs.backends import TuneRequest
    from jobs.console.render import ConsoleNotes
    from jobs.local.backend import LocalBackend
    from jobs.run.folder import RunFolder
    from jobs.spec import load_spec

    spec_file = tmp / f"{run_id}.yaml"
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    backend = LocalBackend(warm=warm)
    request = TuneRequest(spec=str(spec_file), run_id=run_id, runs_dir=tmp / "runs", options={"seed": seed},
                          data_root=str(tmp / "data"))
    backend.sweep(request, ConsoleNotes(Console(quiet=True)))
    loaded = load_spec(spec_file)
    folder = RunFolder.open(run_id, tmp / "runs")
    return loaded, folder, backend.records(folder, loaded, ConsoleNotes(Console(quiet=True)))
