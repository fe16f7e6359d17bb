"""``python -m trainer``: parse flags, train, report to the tuner, write artifacts.

Flags follow the train_nn.py script this trainer replaces, plus the model knobs worth tuning. Values may arrive as
``--hidden=64.0``: Vertex AI sends discrete values as floats. Bad input ends with one line on stderr
and exit status 2; gs:// credentials without a project, one line and exit status 1.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time

from trainer import uri
from trainer.config import ACCELERATOR_ENV, OPTIMIZERS, TrainConfig

DEFAULT_MODEL_DIR = os.path.join("outputs", "model")
USAGE_ERROR = 2


class UsageError(Exception):
    """A flag or input the trainer cannot run with."""


def _integer(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        value = int(number)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def _real(low: float, high: float | None = None, low_open: bool = False, high_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            left = "(" if low_open else "["
            right = "" if high is None else (f"{high})" if high_open else f"{high}]")
            raise argparse.ArgumentTypeError(f"must be in {left}{low}, {right or 'inf)'}, got {text}")
        return value

    return parse


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "y"}:
        return True
    if lowered in {"0", "false", "no", "n"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = _Parser(prog="python -m trainer", description=(
        "Train an MLP binary classifier on .npz splits. Writes model.pt, metrics.json and "
        "eval_history.csv to $AIP_MODEL_DIR (a folder or gs:// prefix; default outputs/model) and "
        "reports validation_accuracy and validation_loss every epoch through cloudml-hypertune."))
    data = p.add_argument_group("data")
    data.add_argument("--train", required=True, help="train .npz with X_train, y_train (path or gs://)")
    data.add_argument("--val", required=True, help="validation .npz with X_val, y_val (path or gs://)")
    fit = p.add_argument_group("training")
    fit.add_argument("--epochs", type=_integer(1), default=d.epochs, help="maximum epochs (%(default)s)")
    fit.add_argument("--learning_rate", type=_real(0, low_open=True), default=d.learning_rate,
                     help="step size (%(default)s)")
    fit.add_argument("--patience", type=_integer(1), default=d.patience,
                     help="epochs without val_loss improvement before stopping (%(default)s)")
    fit.add_argument("--min_delta", type=_real(0), default=d.min_delta,
                     help="smallest val_loss decrease that counts as improvement (%(default)s)")
    fit.add_argument("--restore_best", type=_boolean, default=d.restore_best,
                     help="keep the weights of the best epoch (%(default)s)")
    fit.add_argument("--seed", type=_integer(0), default=d.seed, help="random seed (%(default)s)")
    fit.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="(%(default)s)")
    fit.add_argument("--momentum", type=_real(0, 1, high_open=True), default=d.momentum,
                     help="SGD momentum, sgd only (%(default)s)")
    fit.add_argument("--weight_decay", type=_real(0), default=d.weight_decay, help="L2 penalty (%(default)s)")
    fit.add_argument("--batch_size", type=_integer(0), default=d.batch_size,
                     help="rows per step; 0 trains on the whole split at once (%(default)s)")
    net = p.add_argument_group("model")
    net.add_argument("--hidden", type=_integer(1, 4096), default=d.hidden,
                     help="width of the first hidden layer; each next layer is half as wide (%(default)s)")
    net.add_argument("--layers", type=_integer(1, 8), default=d.layers, help="hidden layers (%(default)s)")
    net.add_argument("--dropout", type=_real(0, 1, high_open=True), default=d.dropout,
                     help="dropout after each hidden layer (%(default)s)")
    run = p.add_argument_group("runtime")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                     help="auto takes CUDA when available (%(default)s)")
    run.add_argument("--threads", type=_integer(0, 256), default=0,
                     help="CPU threads for torch; 0 keeps torch's default, which OMP_NUM_THREADS sets "
                          "(%(default)s)")
    run.add_argument("--log_every", type=_integer(0), default=50,
                     help="print progress every N epochs; 0 prints only the result (%(default)s)")
    return p


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, TrainConfig]:
    args = build_parser().parse_args(argv)
    fields = TrainConfig.__dataclass_fields__
    return args, TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})


def main(argv: list[str] | None = None) -> int:
    """Run one training; returns the process exit status."""
    started = time.perf_counter()
    try:
        args, config = parse(argv)
        return _run(args, config, started)
    except UsageError as exc:
        print(f"trainer: error: {exc}", file=sys.stderr, flush=True)
        return USAGE_ERROR
    except uri.StorageError as exc:  # not the flags: the environment's login, project or network
        print(f"trainer: error: {exc}", file=sys.stderr, flush=True)
        return 1


def _stop_on_sigterm() -> threading.Event:
    """SIGTERM (what a trial that Vertex AI stops early receives) ends training after the current epoch, so
    model.pt, metrics.json and eval_history.csv still hold the epochs that ran."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    return stop


def _run(args: argparse.Namespace, config: TrainConfig, started: float) -> int:
    from trainer.data import DataError, check_pair, load_split

    try:  # data first: a bad file answers before torch is imported
        train = load_split(args.train, "train")
        val = load_split(args.val, "val")
        check_pair(train, val, args.train, args.val)
    except DataError as exc:
        raise UsageError(str(exc)) from None

    import torch

    from trainer import artifacts
    from trainer.metrics import EpochReporter, print_result
    from trainer.train import fit

    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("argument --device: cuda requested but no CUDA device is available")
    attached = os.environ.get(ACCELERATOR_ENV)
    if attached and args.device != "cpu" and not torch.cuda.is_available():
        raise UsageError(f"{attached} is attached to this trial ({ACCELERATOR_ENV}), but torch {torch.__version__} "
                         "sees no CUDA device, so training would run on the CPU while the GPUs are billed: run the "
                         "stack's CUDA image (sweeps:cudaImage), or pass --device=cpu to train on the CPU anyway")
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)

    model_dir = os.environ.get("AIP_MODEL_DIR") or DEFAULT_MODEL_DIR
    reporter = EpochReporter(config.epochs, args.log_every)
    stop = _stop_on_sigterm()
    try:
        result = fit(config, train, val, device, on_epoch=reporter, should_stop=stop.is_set)
    finally:
        reporter.close()
    metrics = artifacts.metrics_record(config, result, (len(train.y), len(val.y)), str(device))
    metrics["wall_seconds"] = round(time.perf_counter() - started, 4)
    artifacts.write_all(model_dir, config, result, metrics)
    print_result(result, model_dir)
    return 0
