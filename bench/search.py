"""How fast each search learns, on known functions (bench/problems.py) and on the reference trainer, as
real local sweeps.

    python -m bench.search [--seeds 20] [--trials 30] [--parallel 2] [--samplers gp tpe vizier] [--problems ...]

Every sweep goes through ``invoke tune``'s code path (LocalBackend, one process per trial, ``parallel`` at a
time): bench.problems' functions run as a fresh process per trial, the ``titanic`` problem is the default
spec's search of the reference trainer on the lesson's Titanic split (forked trials, as ``invoke tune``
runs it; left out when ../shared/data has no Titanic CSV). Each adaptive sampler is one of
jobs/local/search.py's ``ADAPTIVE_SAMPLERS``; the ``adaptive`` column names the one ``algorithm: adaptive``
runs (``ADAPTIVE``). The ``vizier`` column, where the ``vizier`` extra is
installed, is OSS Vizier's default designer (bench/vizier.py), asked for ``parallel`` suggestions at a time in this
process and told each batch's values before the next: bench.problems' functions only (no ``titanic``). Its
searches are kept in bench/results/vizier.json (``VIZIER_RESULTS``) as each ends, by problem, seed, trials,
parallelism and google-vizier version: a run reads the stored ones and runs only the missing ones (also without
the extra, where every search it needs is stored); ``python -m bench.vizier`` fills the file seed by seed.

Per problem, over the seeds: the target is random search's median best of ``2 x trials``; each sampler's
median best after ``trials``, the median trials it needs to reach the target and how many seeds never
reach it in ``trials`` ("stuck"). Random search's own trials to the target are the median of the geometric
law its independent draws follow, fitted to every random trial of every seed (about ``2 x trials`` by
construction). Last, the orchestrator's median seconds per suggestion of the adaptive sampler (asking Optuna
for a trial's values, jobs/local/loop.py's ``SUGGEST_SECONDS``), the median trial's seconds and Vizier's
median seconds per suggestion (a batch's seconds over its suggestions).
The figures vary wildly by seed: read medians over 20 seeds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import REPO, TITANIC, local_sweep, prepare_data
from bench.problems import OPTIMA, PROBLEMS
from jobs.data.defaults import DEFAULT_SPEC
from jobs.local import search
from jobs.local.loop import SUGGEST_SECONDS, load_run_study
from jobs.run.folder import write_atomically
from jobs.spec import Spec, parse_spec
from jobs.trial.record import TrialState

TITANIC_PROBLEM = "titanic"
VIZIER = "vizier"
ADAPTIVE = search.ADAPTIVE  # what ``algorithm: adaptive`` runs (sweep() sets the sampler each sweep compares)
# Vizier's finished searches, one entry each (BENCH_VIZIER_RESULTS names another file)
VIZIER_RESULTS = Path(os.environ.get("BENCH_VIZIER_RESULTS", REPO / "bench" / "results" / "vizier.json"))


@dataclass
class Sweep:
    values: list[float]  # objective values in the order the trials started (failed trials left out)
    suggest_s: list[float]  # the orchestrator's seconds to choose each trial's values
    trial_s: list[float]  # each trial's seconds


def spec_of(problem: str) -> dict:
    """The spec a problem's sweeps run (the algorithm and trials filled in per sweep)."""
    if problem == TITANIC_PROBLEM:
        return yaml.safe_load(Path(DEFAULT_SPEC).read_text()) | {"name": "titanic", "early_stopping": "none"}
    return {"name": problem.replace("_", "-"), "metric": {"id": "loss", "goal": "minimize"},
            "parameters": PROBLEMS[problem][1],
            "trainer": {"command": [sys.executable, "-m", "bench.problems"], "args": [f"--problem={problem}"]}}


def parsed(problem: str) -> Spec:
    """A problem's spec, checked."""
    return parse_spec(spec_of(problem) | {"trials": {"max": 1}}, problem)


def vizier_version() -> str | None:
    """The installed google-vizier's version; None without the extra."""
    try:
        return importlib.metadata.version("google-vizier")
    except importlib.metadata.PackageNotFoundError:
        return None


def stored_vizier(problem: str, seed: int, trials: int, parallel: int) -> Sweep | None:
    """A search of VIZIER_RESULTS with these settings (by the installed google-vizier, or any version without
    the extra); None when none is stored."""
    version = vizier_version()
    for entry in _vizier_results():
        if (entry["problem"], entry["seed"], entry["trials"], entry["parallel"]) == (problem, seed, trials, parallel) \
                and version in (None, entry["vizier"]):
            return Sweep(entry["values"], entry["suggest_s"], [])
    return None


def _search_key(entry: dict) -> tuple:
    """What tells one stored search from another: everything but its results."""
    return entry["problem"], entry["seed"], entry["trials"], entry["parallel"], entry["vizier"]


def _vizier_results() -> list[dict]:
    return json.loads(VIZIER_RESULTS.read_text())["searches"] if VIZIER_RESULTS.exists() else []


def vizier_search(problem: str, seed: int, trials: int, parallel: int) -> Sweep:
    """One search of ``problem`` by Vizier's default designer, in this process (bench/vizier.py), kept in
    VIZIER_RESULTS as soon as it ends (the file is replaced whole, never left half-written)."""
    from bench import vizier

    values, suggest_s = vizier.search(parsed(problem), PROBLEMS[problem][0], seed, trials, parallel)
    entry = {"problem": problem, "seed": seed, "trials": trials, "parallel": parallel, "vizier": vizier_version(),
             "values": values, "suggest_s": suggest_s}
    searches = [e for e in _vizier_results() if _search_key(e) != _search_key(entry)]
    VIZIER_RESULTS.parent.mkdir(exist_ok=True)
    lines = ",\n".join(json.dumps(e) for e in [*searches, entry])  # a search a line
    write_atomically(VIZIER_RESULTS, '{"searches": [\n' + lines + "\n]}\n")
    return Sweep(values, suggest_s, [])


def vizier_searches(problem: str, seeds: int, trials: int, parallel: int) -> list[Sweep]:
    """Vizier's searches of ``problem`` for each seed: the stored ones read, the missing ones run and stored."""
    return [stored_vizier(problem, seed, trials, parallel) or vizier_search(problem, seed, trials, parallel)
            for seed in range(seeds)]


def vizier_notes(samplers: list[str], problems: list[str], seeds: int, trials: int, parallel: int) -> list[str]:
    """What the ``vizier`` column leaves out or does differently, and how many of its searches are stored
    (VIZIER_RESULTS) and how many will run; drops it from ``samplers`` when the extra is not installed and a
    search is missing."""
    if VIZIER not in samplers:
        return []
    functions = [problem for problem in problems if problem in PROBLEMS]
    results = os.path.relpath(VIZIER_RESULTS, REPO)
    stored = {problem: sum(stored_vizier(problem, seed, trials, parallel) is not None for seed in range(seeds))
              for problem in functions}
    try:
        import bench.vizier  # noqa: F401
    except ImportError as e:
        if sum(stored.values()) < seeds * len(functions):
            samplers.remove(VIZIER)
            return [f"{VIZIER}: left out ({e}) and not every search is stored in {results}: "
                    "install the extra with .venv/bin/pip install -e '.[vizier]'"]
    notes = []
    for problem in problems:
        if problem not in PROBLEMS:
            notes.append(f"{VIZIER}: {problem}: left out (a trainer; Vizier's designer runs on functions in process)")
            continue
        if any(p.when for p in parsed(problem).parameters.values()):
            notes.append(f"{VIZIER}: {problem}: searched flat (the designer takes no conditional space); the function "
                         "gets the active parameters")
        notes.append(f"{VIZIER}: {problem}: {stored[problem]} searches stored in {results}, "
                     f"{seeds - stored[problem]} to run")
    return notes


def sweep(problem: str, sampler: str, seed: int, trials: int, parallel: int, tmp: Path) -> Sweep:
    """One real sweep of ``problem`` by ``sampler`` (random or one of the adaptive samplers)."""
    run_id = f"{problem.replace('_', '-')}-{sampler}-{trials}-{seed}"
    algorithm = "random" if sampler == "random" else "adaptive"
    if sampler != "random":
        search.ADAPTIVE = sampler
    spec, folder, records = local_sweep(spec_of(problem) | {"algorithm": algorithm,
                                                           "trials": {"max": trials, "parallel": parallel}},
                                        run_id, tmp, seed, warm=problem == TITANIC_PROBLEM)
    done = sorted((r for r in records if r.state == TrialState.SUCCEEDED), key=lambda r: r.started or 0)
    study = load_run_study(folder, spec.name)
    return Sweep([r.objective for r in done if r.objective is not None],
                 [t.user_attrs[SUGGEST_SECONDS] for t in study.trials if SUGGEST_SECONDS in t.user_attrs],
                 [r.duration_s for r in done if r.duration_s is not None])


def trials_to_reach(values: list[float], target: float) -> float:
    """The first trial (1-based) whose best so far is at or below ``target``; inf when none is."""
    best = math.inf
    for i, value in enumerate(values, 1):
        best = min(best, value)
        if best <= target:
            return i
    return math.inf


def geometric_median(draws: list[float], target: float) -> float:
    """The median number of independent draws until one is at or below ``target``."""
    hit = sum(v <= target for v in draws) / len(draws)
    if hit == 0:
        return math.inf
    return 1.0 if hit == 1 else math.ceil(math.log(0.5) / math.log(1 - hit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--vizier-seeds", type=int,
                        help="the vizier column over seeds 0 to N-1 only (default: --seeds): its searches take "
                             "minutes each, python -m bench.vizier fills them beforehand")
    samplers = [*sorted(search.ADAPTIVE_SAMPLERS), VIZIER]
    parser.add_argument("--samplers", nargs="+", choices=samplers, default=samplers)
    problems = [*PROBLEMS, TITANIC_PROBLEM]
    parser.add_argument("--problems", nargs="+", choices=problems, default=problems)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    print(f"{args.trials} trials at parallel {args.parallel}, seeds 0-{args.seeds - 1}; target: random search's "
          f"median best of {2 * args.trials}; adaptive: the sampler algorithm: adaptive runs")
    vizier_seeds = args.vizier_seeds or args.seeds
    for note in vizier_notes(args.samplers, args.problems, vizier_seeds, args.trials, args.parallel):
        print(note)
    header = f"{'problem':<13}{'optimum':>9}{'target':>10}{'random best':>12}{'trials':>7}"
    for name in args.samplers:
        header += f"{name + ' best':>12}{'trials (stuck)':>15}"
    print(header + f"{'adaptive':>9}{'suggest s':>10}{'trial s':>9}" + (f"{'vizier s':>9}" * (VIZIER in args.samplers)))
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        if TITANIC_PROBLEM in args.problems:
            if TITANIC.exists():
                prepare_data(tmp / "data")
            else:
                args.problems.remove(TITANIC_PROBLEM)
                print(f"{TITANIC_PROBLEM}: left out, no {TITANIC}")
        for problem in args.problems:
            randoms = [sweep(problem, "random", seed, 2 * args.trials, args.parallel, tmp)
                       for seed in range(args.seeds)]
            target = statistics.median(min(r.values) for r in randoms)
            pooled = [v for r in randoms for v in r.values]
            optimum = f"{OPTIMA[problem]:.4g}" if problem in OPTIMA else "-"
            line = (f"{problem:<13}{optimum:>9}{target:>10.4g}"
                    f"{statistics.median(min(r.values[: args.trials]) for r in randoms):>12.4g}"
                    f"{geometric_median(pooled, target):>7g}")
            adaptive = ADAPTIVE
            timing: list[Sweep] = []
            vizier_s = "-"
            for name in args.samplers:
                if name == VIZIER and problem not in PROBLEMS:
                    line += f"{'-':>12}{'-':>15}"
                    continue
                seeds = range(args.seeds)
                runs = (vizier_searches(problem, vizier_seeds, args.trials, args.parallel) if name == VIZIER
                        else [sweep(problem, name, seed, args.trials, args.parallel, tmp) for seed in seeds])
                if name == VIZIER:
                    vizier_s = f"{statistics.median(s for r in runs for s in r.suggest_s):.3f}"
                reach = [trials_to_reach(r.values, target) for r in runs]
                stuck = sum(math.isinf(r) for r in reach)
                line += f"{statistics.median(min(r.values) for r in runs):>12.4g}"
                line += f"{f'{statistics.median(reach):g} ({stuck})':>15}"
                timing = runs if name == adaptive else timing
            line += f"{adaptive:>9}"
            if timing:
                line += (f"{statistics.median(s for r in timing for s in r.suggest_s):>10.3f}"
                         f"{statistics.median(s for r in timing for s in r.trial_s):>9.2f}")
            elif VIZIER in args.samplers:
                line += f"{'-':>10}{'-':>9}"
            if VIZIER in args.samplers:
                line += f"{vizier_s:>9}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
