"""What early stopping saves and costs, on the reference trainer, as real local sweeps.

    python -m bench.stopping [--seeds 10] [--trials 30] [--parallel 2] [--warmup N] [--startup N]

Each seed runs the default spec's search (jobs/specs/breast-cancer.yaml's parameters) on the lesson's
Titanic split (the built-in dataset when ../shared/data has no Titanic CSV) three times: with
``early_stopping`` none, median and decay_curve, through ``invoke tune``'s code path (forked trials,
``parallel`` at a time). Per rule: the epochs the sweep trained (every trial's last epoch, summed), the
share saved against none, and the best trial's validation loss and accuracy (the accuracy of the model the
sweep delivers), as medians over seeds, as the mean paired change against none (same seed, ± its standard
error) and as the seeds on which the accuracy fell; last, the best accuracy of any trial that ran to its end,
and its change. ``--warmup`` and ``--startup`` try other settings of the rules than the shipped ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import yaml

from bench.common import local_sweep, prepare_data
from jobs.data.defaults import DEFAULT_SPEC
from jobs.local import search
from jobs.trial.artifacts import METRICS_FILE
from jobs.trial.record import TrialState, best_trial

RULES = ("none", "median", "decay_curve")


def sweep(rule: str, seed: int, trials: int, parallel: int, tmp: Path) -> dict[str, float]:
    """One sweep's epochs trained, its best trial's validation loss and accuracy, and the best accuracy of any
    trial that ran to its end (steadier: a max over trials, not one trial's)."""
    spec = yaml.safe_load(Path(DEFAULT_SPEC).read_text())
    spec |= {"name": f"stopping-{rule.replace('_', '-')}", "early_stopping": rule,
             "trials": {"max": trials, "parallel": parallel}}
    loaded, _, records = local_sweep(spec, f"{spec['name']}-{trials}-{seed}", tmp, seed)
    best = best_trial(records, loaded.metric.goal)
    accuracy = {r.trial_id: json.loads((Path(r.artifact_dir) / "model" / METRICS_FILE).read_text())
                ["final_val_accuracy"] for r in records if r.state == TrialState.SUCCEEDED}
    return {"epochs": sum(r.step or 0 for r in records), "loss": best.objective, "accuracy": accuracy[best.trial_id],
            "top": max(accuracy.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=search.STOPPING_WARMUP,
                        help="epochs a trial runs before it can be stopped")
    parser.add_argument("--startup", type=int, default=search.STOPPING_STARTUP,
                        help="completed trials before any trial is stopped")
    args = parser.parse_args()
    search.STOPPING_WARMUP, search.STOPPING_STARTUP = args.warmup, args.startup
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        data = prepare_data(tmp / "data")
        print(f"{data}; {args.trials} trials at parallel {args.parallel}, seeds 0-{args.seeds - 1}; "
              f"warm-up {args.warmup} epochs, {args.startup} trials first")
        runs: dict[str, list[dict[str, float]]] = {rule: [] for rule in RULES}
        for seed in range(args.seeds):
            for rule in RULES:
                runs[rule].append(sweep(rule, seed, args.trials, args.parallel, tmp))
            print(f"  seed {seed}: " + ", ".join(f"{rule} {runs[rule][-1]['epochs']:g} epochs, accuracy "
                                                 f"{runs[rule][-1]['accuracy']:.4f}" for rule in RULES), flush=True)
    print(f"{'rule':<13}{'epochs':>8}{'saved':>8}{'best loss':>11}{'accuracy':>10}"
          f"{'paired change (points)':>24}{'seeds worse':>13}{'top accuracy':>14}{'paired change':>15}")
    base = runs["none"]
    for rule, results in runs.items():
        epochs = statistics.median(r["epochs"] for r in results)
        saved = 1 - sum(r["epochs"] for r in results) / sum(r["epochs"] for r in base)
        changes = [100 * (r["accuracy"] - b["accuracy"]) for r, b in zip(results, base)]
        change = statistics.mean(changes)
        error = statistics.stdev(changes) / len(changes) ** 0.5 if len(changes) > 1 else 0.0
        worse = sum(r["accuracy"] < b["accuracy"] for r, b in zip(results, base))
        top_change = statistics.mean(100 * (r["top"] - b["top"]) for r, b in zip(results, base))
        paired = f"{change:+.2f} ± {error:.2f}"
        print(f"{rule:<13}{epochs:>8g}{saved:>8.0%}{statistics.median(r['loss'] for r in results):>11.4f}"
              f"{statistics.median(r['accuracy'] for r in results):>10.4f}{paired:>24}{worse:>13}"
              f"{statistics.median(r['top'] for r in results):>14.4f}{top_change:>+15.2f}")


if __name__ == "__main__":
    main()
