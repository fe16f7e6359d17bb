"""How fast each search learns, on known functions (bench/problems.py), as real local sweeps.

    python -m bench.search [--seeds 5] [--trials 30] [--parallel 2] [--problems branin mixed ...]

Every sweep goes through ``invoke tune``'s code path (LocalBackend, one process per trial, ``parallel`` at
a time). Per problem: the median best value after ``trials`` trials of random and adaptive search, and the
trials each needs to reach random search's best of ``2 x trials`` (the target, per seed); "stuck" counts the
seeds that never reach it. The figures vary wildly by seed: read the medians over at least 5 seeds.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from rich.console import Console

from bench.common import REPO
from bench.problems import OPTIMA, PROBLEMS
from jobs.backends import TuneRequest
from jobs.local.commands import LocalBackend
from jobs.runs import RunFolder
from jobs.spec import load_spec
from jobs.trials import TrialState

ALGORITHMS = ("random", "adaptive")


def sweep(problem: str, algorithm: str, seed: int, trials: int, parallel: int, tmp: Path) -> list[float]:
    """One sweep's objective values in the order its trials started (failed trials left out)."""
    run_id = f"{problem.replace('_', '-')}-{algorithm}-{trials}-{seed}"
    spec_file = tmp / f"{run_id}.yaml"
    spec_file.write_text(yaml.safe_dump({
        "name": problem.replace("_", "-"), "metric": {"id": "loss", "goal": "minimize"},
        "parameters": PROBLEMS[problem][1], "algorithm": algorithm, "trials": {"max": trials, "parallel": parallel},
        "trainer": {"command": [sys.executable, "-m", "bench.problems"], "args": [f"--problem={problem}"]}},
        sort_keys=False))
    request = TuneRequest(spec=str(spec_file), run_id=run_id, runs_dir=tmp / "runs", seed=seed, data_root=str(tmp))
    backend = LocalBackend(warm=False)
    backend.run(request, Console(quiet=True))
    records = backend.records(RunFolder.open(run_id, tmp / "runs"), load_spec(spec_file))
    done = sorted((r for r in records if r.state == TrialState.SUCCEEDED), key=lambda r: r.started or 0)
    return [r.objective for r in done if r.objective is not None]


def trials_to_reach(values: list[float], target: float) -> float:
    """The first trial (1-based) whose best so far is at or below ``target``; inf when none is."""
    best = math.inf
    for i, value in enumerate(values, 1):
        best = min(best, value)
        if best <= target:
            return i
    return math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--problems", nargs="+", choices=sorted(PROBLEMS), default=list(PROBLEMS))
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    print(f"{args.trials} trials at parallel {args.parallel}, seeds 0-{args.seeds - 1}; target: random search's "
          f"best of {2 * args.trials} (per seed)")
    print(f"{'problem':<14}{'optimum':>10}{'random best':>13}{'adaptive best':>15}"
          f"{'random: trials to target (stuck)':>34}{'adaptive: trials (stuck)':>26}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for problem in args.problems:
            best: dict[str, list[float]] = {a: [] for a in ALGORITHMS}
            reach: dict[str, list[float]] = {a: [] for a in ALGORITHMS}
            for seed in range(args.seeds):
                target = min(sweep(problem, "random", seed + 1000, 2 * args.trials, args.parallel, tmp))
                for algorithm in ALGORITHMS:
                    values = sweep(problem, algorithm, seed, args.trials, args.parallel, tmp)
                    best[algorithm].append(min(values))
                    reach[algorithm].append(trials_to_reach(values, target))
            cells = []
            for algorithm in ALGORITHMS:
                stuck = sum(math.isinf(r) for r in reach[algorithm])
                cells.append(f"{statistics.median(reach[algorithm]):>g} ({stuck}/{args.seeds})")
            print(f"{problem:<14}{OPTIMA[problem]:>10.4g}{statistics.median(best['random']):>13.4g}"
                  f"{statistics.median(best['adaptive']):>15.4g}{cells[0]:>34}{cells[1]:>26}", flush=True)


if __name__ == "__main__":
    main()
