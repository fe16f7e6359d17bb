"""A trainer that is not ours: reports f(x, y) = (x - 1)^2 + (y + 2)^2 over a few steps.

--mode picks its behaviour: good (fast), bad (slow, poor values, for early stopping), crash (exit 3
after one report), silent (reports nothing), hang (sleeps), print (prints `<metric>: <value>` lines
instead of using hypertune), spew (prints --spew_bytes bytes without a newline, then exits 2), orphan (starts a
child that ignores SIGTERM and sleeps, then runs as good), graceful (reports, then sleeps; on SIGTERM writes
stopped.txt into AIP_MODEL_DIR and exits 0), stubborn (reports, then sleeps ignoring SIGTERM). Used by
the sweep tests as a real subprocess trial.
"""

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
parser.add_argument("--y", type=float, default=0.0)
parser.add_argument("--mode", default="good")
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--step_seconds", type=float, default=0.0)
parser.add_argument("--metric", default="loss")
parser.add_argument("--marker", default="")
parser.add_argument("--spew_bytes", type=int, default=1_000_000)
args = parser.parse_args()

value = (args.x - 1) ** 2 + (args.y + 2) ** 2
if args.mode in ("graceful", "stubborn"):
    import signal

    import hypertune

    def saved(*_):
        os.makedirs(os.environ["AIP_MODEL_DIR"], exist_ok=True)
        with open(os.path.join(os.environ["AIP_MODEL_DIR"], "stopped.txt"), "w") as out:
            out.write("saved on SIGTERM\n")
        sys.exit(0)

    signal.signal(signal.SIGTERM, saved if args.mode == "graceful" else signal.SIG_IGN)
    hypertune.HyperTune().report_hyperparameter_tuning_metric(args.metric, value, global_step=1)
    time.sleep(3600)
if args.mode == "hang":
    time.sleep(3600)
if args.mode == "silent":
    sys.exit(0)
if args.mode == "orphan":
    import subprocess

    subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                      f"time.sleep(3600)  # {args.marker}"])
if args.mode == "spew":
    sys.stdout.write("x" * args.spew_bytes)
    sys.stdout.flush()
    sys.exit(2)
tuner = None
if args.mode != "print":
    import hypertune

    tuner = hypertune.HyperTune()
steps = args.steps * (12 if args.mode == "bad" else 1)
for step in range(1, steps + 1):
    current = value + 10.0 / step + (100.0 if args.mode == "bad" else 0.0)
    if tuner is None:
        print(f"{args.metric}: {current}", flush=True)
    else:
        tuner.report_hyperparameter_tuning_metric(args.metric, current, global_step=step)
    if args.mode == "crash":
        print("Traceback: something broke", file=sys.stderr, flush=True)
        sys.exit(3)
    time.sleep(args.step_seconds * (1 if args.mode != "bad" else 2))
os.makedirs(os.environ.get("AIP_MODEL_DIR", "."), exist_ok=True)
print(f"{args.metric}: {value + 10.0 / steps}", flush=True)
