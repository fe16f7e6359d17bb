"""OSS Vizier's default designer as bench/search.py's comparator: GP-UCB-PE (``VizierGPUCBPEBandit``, what
Vizier's service runs for algorithm ``DEFAULT``, vizier/_src/service/policy_factory.py), through its Designer
API in this process: ``parallel`` suggestions at a time, each batch's values computed by bench.problems'
function and given back with ``update`` before the next batch. Needs the ``vizier`` extra
(``pip install -e '.[vizier]'``); importing this module without it raises ImportError.

A conditional space is searched flat (the designer refuses conditional spaces): every parameter is suggested
in every trial and the function receives only the active ones, as a trainer would.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jax
from vizier import algorithms as vza
from vizier import pyvizier as vz
from vizier._src.algorithms.designers.gp_ucb_pe import VizierGPUCBPEBandit

from jobs.spec import Spec

# compiled functions kept across processes, outside the repository (about a quarter of a search's seconds)
jax.config.update("jax_compilation_cache_dir", str(Path.home() / ".cache" / "sweeps-bench" / "jax"))
jax.config.update("jax_enable_x64", True)  # as Vizier's service does (vizier/_src/service/pythia_service.py)
# JAX warns at every fork; the real sweeps that share bench.search's process fork only to exec a trial.
warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)

SCALES = {"linear": vz.ScaleType.LINEAR, "log": vz.ScaleType.LOG, "reverse_log": vz.ScaleType.REVERSE_LOG}


def problem_statement(spec: Spec) -> vz.ProblemStatement:
    """The spec's parameters (conditional ones flattened) and metric as Vizier's problem."""
    problem = vz.ProblemStatement()
    root = problem.search_space.root
    for pid, p in spec.parameters.items():
        if p.type == "double":
            root.add_float_param(pid, p.min, p.max, scale_type=SCALES[p.scale])
        elif p.type == "integer":
            root.add_int_param(pid, p.min, p.max, scale_type=SCALES[p.scale])
        elif p.type == "discrete":
            root.add_discrete_param(pid, p.values, scale_type=SCALES[p.scale])
        else:
            root.add_categorical_param(pid, p.values)
    goal = vz.ObjectiveMetricGoal.MAXIMIZE if spec.metric.goal == "maximize" else vz.ObjectiveMetricGoal.MINIMIZE
    problem.metric_information.append(vz.MetricInformation(name=spec.metric.id, goal=goal))
    return problem


def search(spec: Spec, function: Callable[..., float], seed: int, trials: int,
           parallel: int) -> tuple[list[float], list[float]]:
    """``trials`` values of ``function`` in the order Vizier suggested them, and the seconds of each suggestion
    (a batch's seconds shared among its suggestions)."""
    designer = VizierGPUCBPEBandit(problem_statement(spec), rng=jax.random.PRNGKey(seed))
    values: list[float] = []
    seconds: list[float] = []
    while len(values) < trials:
        started = time.perf_counter()
        suggestions = designer.suggest(min(parallel, trials - len(values)))
        seconds += [(time.perf_counter() - started) / len(suggestions)] * len(suggestions)
        done = []
        for suggestion in suggestions:
            trial = suggestion.to_trial(len(values) + 1)
            assignment = {pid: _value(spec, pid, v.value) for pid, v in trial.parameters.items()}
            values.append(function(**{pid: assignment[pid] for pid in spec.active(assignment)}))
            done.append(trial.complete(vz.Measurement({spec.metric.id: values[-1]})))
        designer.update(vza.CompletedTrials(done), vza.ActiveTrials())
    jax.clear_caches()  # the designer's compiled functions take gigabytes after a few searches, and are not reused
    return values, seconds


def _value(spec: Spec, pid: str, value: object) -> object:
    """A suggested value as a trainer would receive it (an integer as an int)."""
    return int(value) if spec.parameters[pid].type == "integer" else value  # type: ignore[call-overload]


def main() -> None:
    """Run and store (bench/search.py's VIZIER_RESULTS) the searches not stored yet, seed by seed over the
    problems, so that an interrupted run keeps every search it finished."""
    from bench import search as bench_search
    from bench.problems import PROBLEMS

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    args = parser.parse_args()
    for seed in range(args.seeds):
        for problem in args.problems:
            if bench_search.stored_vizier(problem, seed, args.trials, args.parallel) is None:
                started = time.perf_counter()
                run = bench_search.vizier_search(problem, seed, args.trials, args.parallel)
                print(f"seed {seed} {problem}: best {min(run.values):.4g} in {time.perf_counter() - started:.0f} s",
                      flush=True)


if __name__ == "__main__":
    main()
