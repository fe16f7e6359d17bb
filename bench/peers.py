"""The default sweep against the same trials in a hand-written in-process Optuna script.

    python -m bench.peers [--rounds 3] [--trials 20] [--parallel 2]

Each round runs three fresh processes, in an order that rotates from round to round, all seeded with the
round's number: ``invoke tune`` of jobs/specs/breast-cancer.yaml on the built-in dataset, and a script that
searches the same space with Optuna's default TPESampler, then with its default GPSampler, ``parallel``
trials at a time in threads (``study.optimize(n_jobs=parallel)``). The script's trial is the reference
trainer's training called in-process, the data read once: the trainer's own flag parsing, ``fit`` on one
torch thread (as a sweep's trial on this many cores), its artifacts written. Per round: each one's wall
seconds (process start to exit) and best validation loss; then the medians and the medians of the rounds'
ratios invoke/TPE and invoke/GP.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, REPO
from jobs.data.defaults import DEFAULT_SPEC

SCRIPTS = {"tpe": "Optuna TPE", "gp": "Optuna GP"}
INVOKE = "invoke tune"


# -- the hand-written script (run as its own process: python -m bench.peers --script tpe ...) -----------
def _space(trial) -> dict[str, object]:
    """The default spec's parameters, as one would write them for Optuna by hand."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
        "patience": trial.suggest_int("patience", 5, 20),
        "min_delta": trial.suggest_float("min_delta", 1e-4, 1e-2, log=True),
        "hidden": trial.suggest_categorical("hidden", [16, 32, 64, 128]),
        "layers": trial.suggest_int("layers", 1, 3),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "batch_size": trial.suggest_categorical("batch_size", [0, 32, 64, 128]),
    }


def script(sampler: str, data: Path, out: Path, trials: int, parallel: int, seed: int) -> None:
    """Optimize the default space in this process; print the best validation loss."""
    import optuna
    import torch

    from trainer import artifacts, cli
    from trainer.data import load_split
    from trainer.train import fit

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // parallel))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, val = load_split(str(data / "train_data.npz"), "train"), load_split(str(data / "val_data.npz"), "val")

    def objective(trial: optuna.Trial) -> float:
        flags = [f"--{name}={value}" for name, value in _space(trial).items()]
        _, config = cli.parse(["--train=-", "--val=-", "--epochs=300", *flags])
        result = fit(config, train, val, torch.device("cpu"))
        metrics = artifacts.metrics_record(config, result, (len(train.y), len(val.y)), "cpu")
        artifacts.write_all(str(out / str(trial.number)), config, result, metrics)
        return result.best_val_loss

    samplers = {"tpe": optuna.samplers.TPESampler, "gp": optuna.samplers.GPSampler}
    study = optuna.create_study(sampler=samplers[sampler](seed=seed))
    study.optimize(objective, n_trials=trials, n_jobs=parallel)
    print(json.dumps({"best": study.best_value}))


# -- the comparison --------------------------------------------------------------------------------
def _timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return wall, done.stdout


def run_invoke(tmp: Path, data: Path, trials: int, parallel: int, seed: int) -> tuple[float, float]:
    """``invoke tune`` as a user runs it; its wall seconds and best objective."""
    from rich.console import Console

    from jobs.console.render import ConsoleNotes
    from jobs.local.backend import LocalBackend
    from jobs.run.folder import RunFolder
    from jobs.spec import load_spec
    from jobs.trial.record import best_trial

    run_id = f"peers-{seed}"
    wall, _ = _timed([PYTHON, "-m", "invoke", "--search-root", str(REPO), "tune", f"--seed={seed}",
                      f"--run-id={run_id}", f"--data-root={data}", f"--trials={trials}", f"--parallel={parallel}"], tmp)
    spec = load_spec(DEFAULT_SPEC)
    folder = RunFolder.open(run_id, tmp / "runs")
    best = best_trial(LocalBackend().records(folder, spec, ConsoleNotes(Console(quiet=True))), spec.metric.goal)
    return wall, best.objective


def run_script(sampler: str, tmp: Path, data: Path, trials: int, parallel: int, seed: int) -> tuple[float, float]:
    out = tmp / f"{sampler}-{seed}"
    wall, printed = _timed([PYTHON, "-m", "bench.peers", "--script", sampler, f"--data={data}", f"--out={out}",
                            f"--trials={trials}", f"--parallel={parallel}", f"--seed={seed}"], tmp)
    return wall, json.loads(printed.strip().splitlines()[-1])["best"]


def compare(rounds: int, trials: int, parallel: int) -> None:
    import optuna

    from jobs.data.prepare import DEFAULT_DATASET, prepare_to
    from jobs.spec import load_spec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    written = _space(optuna.create_study().ask())
    assert list(written) == list(load_spec(DEFAULT_SPEC).parameters), "the script's space no longer matches the spec's"
    names = [INVOKE, *SCRIPTS.values()]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        prepare_to(str(tmp / "data"))
        print(f"peers: {trials} trials of {DEFAULT_SPEC.name} at parallel {parallel} on the {DEFAULT_DATASET}, "
              f"{rounds} interleaved round(s); wall seconds (best validation loss)")
        runs = {INVOKE: lambda seed: run_invoke(tmp, tmp / "data", trials, parallel, seed)} | {
            label: (lambda seed, s=sampler: run_script(s, tmp, tmp / "data", trials, parallel, seed))
            for sampler, label in SCRIPTS.items()}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for who in order:
                results[who].append(runs[who](r))
            print(f"  round {r + 1}: " + " | ".join(f"{who} {results[who][r][0]:5.2f} s ({results[who][r][1]:.4f})"
                                                    for who in names))
    print("  median:  " + " | ".join(f"{who} {statistics.median(w for w, _ in results[who]):5.2f} s "
                                     f"({statistics.median(b for _, b in results[who]):.4f})" for who in names))
    ratio = {label: statistics.median(a[0] / b[0] for a, b in zip(results[INVOKE], results[label]))
             for label in SCRIPTS.values()}
    print(f"  ratio invoke/TPE {ratio['Optuna TPE']:.2f}, invoke/GP {ratio['Optuna GP']:.2f} "
          f"(median over {rounds} round(s))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--script", choices=SCRIPTS, help=argparse.SUPPRESS)  # one script run, as its own process
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.script:
        script(args.script, args.data, args.out, args.trials, args.parallel, args.seed)
    else:
        compare(args.rounds, args.trials, args.parallel)


if __name__ == "__main__":
    main()
