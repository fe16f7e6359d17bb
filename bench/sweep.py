"""Sweep benchmarks, every ratio measured within this one run.

    python -m bench.sweep [--trials 20] [--parallel 2] [--repeat 3] [--no-fresh]

The overhead: wall time of a sweep of jobs/specs/breast-cancer.yaml (local backend) divided by the same
    trials' training time in-process (re-run one after another here, then / parallel), once with
    trials forked warm (the default) and once with a fresh process per trial.
How fast each search learns is bench/search.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, REPO, prepare_data
from jobs.data.defaults import DEFAULT_SPEC
from jobs.spec import load_spec

SPEC_NAME = load_spec(DEFAULT_SPEC).name


# -- overhead -------------------------------------------------------------------------------------
def run_sweep(tmp: Path, data: Path, run_id: str, trials: int, parallel: int, warm: bool) -> float:
    code = ("import sys; from rich.console import Console; from jobs.backends import TuneRequest; "
            "from jobs.console.render import ConsoleNotes, show; from jobs.local.backend import LocalBackend; "
            f"request = TuneRequest(run_id={run_id!r}, trials={trials}, parallel={parallel}, options={{'seed': 0}}, "
            f"data_root={str(data)!r}); "
            "console = Console(quiet=True); "
            f"sys.exit(show(LocalBackend(warm={warm}).sweep(request, ConsoleNotes(console)), console))")
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], check=True, cwd=tmp, env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - started


def sweep_trials(tmp: Path, run_id: str) -> list:
    from jobs.local.loop import load_run_study, study_records
    from jobs.run.folder import RunFolder

    study = load_run_study(RunFolder(tmp / "runs" / run_id), SPEC_NAME)
    return [t for t in study_records(study) if t.state == "SUCCEEDED"]


def in_process_seconds(argv: list[str], scratch: Path) -> float:
    """One trial's trainer run inside this process (imports already paid), one thread as in the sweep."""
    import trainer.cli

    os.environ.update(AIP_MODEL_DIR=str(scratch / "model"), CLOUD_ML_HP_METRIC_FILE=str(scratch / "hp"))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = trainer.cli.main(argv)
    assert code == 0, argv
    return time.perf_counter() - started


def overhead(trials: int, parallel: int, repeat: int, fresh: bool) -> None:
    import torch

    spec = load_spec(DEFAULT_SPEC)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // parallel))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        described = prepare_data(tmp / "data")
        print(f"overhead: {trials} trials of {DEFAULT_SPEC.name} at parallel {parallel} on the {described}")
        in_process_seconds([f"--train={tmp}/data/train_data.npz", f"--val={tmp}/data/val_data.npz", "--epochs=2"],
                           tmp)  # pay torch's lazy imports before timing
        modes = [("forked warm", True)] * repeat + ([("fresh process", False)] if fresh else [])
        ratios: dict[str, list[tuple[float, float]]] = {}
        for i, (label, warm) in enumerate(modes):
            run_id = f"{label.replace(' ', '-')}-{i}"
            wall = run_sweep(tmp, tmp / "data", run_id, trials, parallel, warm)
            done = sweep_trials(tmp, run_id)
            span = max(t.started + t.duration_s for t in done) - min(t.started for t in done)
            work = sum(in_process_seconds(spec.trial_argv(str(tmp / "data"), t.parameters)[3:], tmp) for t in done)
            baseline = work / parallel
            ratios.setdefault(label, []).append((wall / baseline, span / baseline))
            print(f"  {label:14s} wall {wall:6.2f} s (first trial to last {span:6.2f} s); in-process training "
                  f"{work:6.2f} s / {parallel} = {baseline:5.2f} s; ratio {wall / baseline:5.2f} "
                  f"(trials only {span / baseline:5.2f}); {len(done)} succeeded")
        for label, pairs in ratios.items():
            print(f"  {label:14s} median ratio {statistics.median(w for w, _ in pairs):5.2f} "
                  f"(trials only {statistics.median(s for _, s in pairs):5.2f}) over {len(pairs)} sweep(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="forked sweeps to time (the median is printed)")
    parser.add_argument("--no-fresh", action="store_true", help="skip the sweep with a fresh process per trial")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    overhead(args.trials, args.parallel, args.repeat, not args.no_fresh)


if __name__ == "__main__":
    main()
