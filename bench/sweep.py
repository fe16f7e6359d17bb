"""Sweep benchmarks, every ratio measured within this one run.

    python -m bench.sweep [overhead] [search] [--trials 20] [--parallel 2] [--repeat 3] [--no-fresh] [--seeds 5]

overhead: wall time of a sweep of jobs/specs/breast-cancer.yaml (local backend) divided by the same
    trials' training time in-process (re-run one after another here, then / parallel), once with
    trials forked warm (the default) and once with a fresh process per trial.
search: trials that each adaptive sampler needs to reach random search's best-of-40, median over
    seeds, on a cheap known function over the default spec's space and on the real trainer.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, REPO, prepare_data
from jobs.spec import load_spec

SPEC = REPO / "jobs" / "specs" / "breast-cancer.yaml"
SPEC_NAME = load_spec(SPEC).name
BUDGET = 40


# -- overhead -------------------------------------------------------------------------------------
def run_sweep(tmp: Path, data: Path, run_id: str, trials: int, parallel: int, warm: bool) -> float:
    code = ("import sys; from rich.console import Console; from jobs.backends import TuneRequest; "
            "from jobs.local.commands import LocalBackend; "
            f"request = TuneRequest(run_id={run_id!r}, trials={trials}, parallel={parallel}, seed=0, "
            f"data_root={str(data)!r}); "
            f"sys.exit(LocalBackend(warm={warm}).run(request, Console(quiet=True)))")
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], check=True, cwd=tmp, env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - started


def sweep_trials(tmp: Path, run_id: str) -> list:
    from jobs.local.backend import load_run_study, views
    from jobs.runs import RunFolder

    study = load_run_study(RunFolder(tmp / "runs" / run_id), SPEC_NAME)
    return [t for t in views(study) if t.state == "SUCCEEDED"]


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

    spec = load_spec(SPEC)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // parallel))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        described = prepare_data(tmp / "data")
        print(f"overhead: {trials} trials of {SPEC.name} at parallel {parallel} on the {described}")
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


# -- search efficiency ----------------------------------------------------------------------------
def known_function(values: dict) -> float:
    """A smooth function over the default spec's space with its maximum (0) at a known point."""
    return -((math.log10(values["learning_rate"]) + 2.3) ** 2
             + ((values["patience"] - 14) / 6) ** 2
             + (math.log10(values["min_delta"]) + 3.2) ** 2
             + ((math.log2(values["hidden"]) - 5.5) / 2) ** 2
             + ((values["layers"] - 2) / 1.5) ** 2
             + ((values["dropout"] - 0.15) / 0.25) ** 2
             + ((values["batch_size"] - 64) / 96) ** 2)


def trainer_objective(data: Path, scratch: Path):
    spec = load_spec(SPEC)

    def objective(values: dict) -> float:
        argv = spec.trial_argv(str(data), values)[3:]
        in_process_seconds(argv, scratch)
        return json.loads((scratch / "model" / "metrics.json").read_text())["best_val_accuracy"]

    return objective


def best_curve(objective, sampler_name: str, seed: int, parallel: int) -> list[float]:
    """Best value so far after each of BUDGET trials, asked ``parallel`` at a time (ask-and-tell)."""
    import optuna

    from jobs.local import search
    spec = load_spec(SPEC)
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = search.sampler_for(spec, seed, adaptive=sampler_name)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    curve: list[float] = []
    while len(curve) < BUDGET:
        batch = [study.ask() for _ in range(min(parallel, BUDGET - len(curve)))]
        for trial in batch:
            value = objective(search.suggest(trial, spec))
            study.tell(trial, value)
            curve.append(max(value, curve[-1]) if curve else value)
    return curve


def trials_to_reach(curve: list[float], target: float) -> float:
    return next((i + 1 for i, best in enumerate(curve) if best >= target - 1e-12), math.inf)


def search_efficiency(seeds: int, parallel: int) -> None:
    from jobs.local.search import ADAPTIVE_SAMPLERS

    optuna_quiet()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        described = prepare_data(tmp / "data")
        problems = {"known function": known_function, f"trainer ({described})": trainer_objective(tmp / "data", tmp)}
        for problem, objective in problems.items():
            print(f"search: {problem}; trials to reach random's best-of-{BUDGET}, median of {seeds} seeds, "
                  f"parallel {parallel}")
            # Random draws its own seeds: the adaptive samplers start with random trials of the same seed.
            targets = [best_curve(objective, "random", 1000 + seed, parallel)[-1] for seed in range(seeds)]
            for sampler in ADAPTIVE_SAMPLERS:
                started = time.perf_counter()
                needed = [trials_to_reach(best_curve(objective, sampler, seed, parallel), target)
                          for seed, target in zip(range(seeds), targets)]
                median = statistics.median(needed)
                print(f"  {sampler:4s} median {median:5} of {BUDGET} (ratio {median / BUDGET:.2f}); per seed "
                      f"{[n if n != math.inf else '>40' for n in needed]}; {time.perf_counter() - started:.1f} s")


def optuna_quiet() -> None:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", choices=["overhead", "search"], default=["overhead", "search"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="forked sweeps to time (the median is printed)")
    parser.add_argument("--no-fresh", action="store_true", help="skip the sweep with a fresh process per trial")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if "overhead" in args.parts:
        overhead(args.trials, args.parallel, args.repeat, not args.no_fresh)
    if "search" in args.parts:
        search_efficiency(args.seeds, args.parallel)


if __name__ == "__main__":
    main()
