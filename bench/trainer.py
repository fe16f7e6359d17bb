"""One trial as a fresh process vs the same training in-process, and where the time goes.

    python -m bench.trainer [--repeat 5] [--epochs N] [--lesson PATH/TO/train_nn.py]

With --lesson, the seed lesson's train_nn.py runs on the same data at the same settings and the
ratio of the two fresh-process times is printed too. All figures are medians from this one run. --epochs caps
the epochs (the trainer's own limit by default; the lesson's script has no such flag, so not with --lesson).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, median_wall, prepare_data
from trainer.config import TrainConfig

IMPORTS = "import torch; from trainer import cli, train, metrics, artifacts"


def in_process(train_path: str, val_path: str, model_dir: Path, repeat: int, epochs: int) -> dict[str, float]:
    import torch

    from trainer import artifacts
    from trainer.data import load_split
    from trainer.metrics import EpochReporter
    from trainer.train import fit

    phases: dict[str, list[float]] = {"data": [], "epochs": [], "artifacts": []}
    epoch_count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        train, val = load_split(train_path, "train"), load_split(val_path, "val")
        t1 = time.perf_counter()
        config = TrainConfig(epochs=epochs)
        reporter = EpochReporter(config.epochs, 0)
        result = fit(config, train, val, torch.device("cpu"), on_epoch=reporter)
        reporter.close()
        t2 = time.perf_counter()
        metrics = artifacts.metrics_record(config, result, (len(train.y), len(val.y)), "cpu")
        artifacts.write_all(str(model_dir), config, result, metrics)
        t3 = time.perf_counter()
        epoch_count = result.stopped_epoch
        for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            phases[name].append(seconds)
    summary = {name: statistics.median(values) for name, values in phases.items()}
    summary["epoch_count"] = epoch_count
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="at most this many epochs a trial")
    parser.add_argument("--lesson", type=Path, help="the seed lesson's train_nn.py, to compare against")
    args = parser.parse_args()
    if args.lesson and args.epochs != TrainConfig.epochs:
        parser.error("--epochs cannot be used with --lesson: the lesson's script always runs its own epochs")

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        described = prepare_data(tmp_path / "data")
        train, val = str(tmp_path / "data" / "train_data.npz"), str(tmp_path / "data" / "val_data.npz")
        env = {**os.environ, "AIP_MODEL_DIR": str(tmp_path / "model"),
               "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hp" / "metrics")}
        settings = ["--learning_rate=1e-4", "--patience=10", "--min_delta=1e-3"]
        fresh = median_wall([PYTHON, "-m", "trainer", f"--train={train}", f"--val={val}", *settings, "--log_every=0",
                             f"--epochs={args.epochs}"], args.repeat, env=env)
        startup = median_wall([PYTHON, "-c", IMPORTS], args.repeat)
        inside = in_process(train, val, tmp_path / "model-in", args.repeat, args.epochs)
        lesson = None
        if args.lesson:
            lesson = median_wall([PYTHON, str(args.lesson), f"--train={train}", f"--val={val}", *settings],
                                 args.repeat, env=env, cwd=tmp)

    work = inside["data"] + inside["epochs"] + inside["artifacts"]
    print(f"data: {described}; lesson defaults (learning_rate 1e-4, patience 10, min_delta 1e-3); "
          f"{inside['epoch_count']} epochs; medians of {args.repeat}")
    print(f"fresh process, one trial        {fresh:7.3f} s")
    print(f"  interpreter + imports         {startup:7.3f} s  ({startup / fresh:5.1%})")
    print(f"  data (load + checks)          {inside['data']:7.3f} s  ({inside['data'] / fresh:5.1%})")
    print(f"  epochs (incl. hypertune)      {inside['epochs']:7.3f} s  ({inside['epochs'] / fresh:5.1%}, "
          f"{inside['epochs'] / inside['epoch_count'] * 1e3:.2f} ms/epoch)")
    print(f"  artifacts                     {inside['artifacts']:7.3f} s  ({inside['artifacts'] / fresh:5.1%})")
    print(f"in-process, same training       {work:7.3f} s")
    print(f"ratio fresh / in-process        {fresh / work:7.2f}")
    if lesson is not None:
        print(f"lesson train_nn.py, fresh       {lesson:7.3f} s")
        print(f"ratio ours / lesson             {fresh / lesson:7.2f}")


if __name__ == "__main__":
    main()
