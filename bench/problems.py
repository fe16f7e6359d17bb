"""Known functions to search, as a trainer: ``python -m bench.problems --problem=NAME --<id>=<value> ...``
prints ``loss: <value>`` (a trainer that is not ours, read from its printed line) and exits.

Each problem is a spec's parameters and the function of them; ``OPTIMA`` gives the best value a search can
reach. Shapes: smooth and low-dimensional (Branin), higher-dimensional (Hartmann-6), log-scaled
parameters, mixed continuous + integer + discrete + categorical, a conditional space, a noisy objective.
"""

from __future__ import annotations

import argparse
import math
import random

HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
              [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
              [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]


def branin(x1: float, x2: float) -> float:
    return ((x2 - 5.1 / (4 * math.pi ** 2) * x1 ** 2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def hartmann6(**x: float) -> float:
    point = [x[f"x{i}"] for i in range(1, 7)]
    return -sum(alpha * math.exp(-sum(a * (v - p) ** 2 for a, v, p in zip(row, point, centre, strict=True)))
                for alpha, row, centre in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P, strict=True))


def log_scaled(learning_rate: float, weight_decay: float) -> float:
    """A loss valley along log10 axes: best at learning_rate 3e-3, weight_decay 1e-4."""
    a, b = math.log10(learning_rate) - math.log10(3e-3), math.log10(weight_decay) + 4
    return a * a + 0.5 * b * b + 0.3 * a * b


def mixed(x: float, y: float, layers: int, width: float, activation: str) -> float:
    """Continuous, integer, discrete and categorical parameters that interact; best 0.40."""
    shift = {"relu": 0.0, "tanh": 0.6, "gelu": 0.25}[activation]
    return ((x - 0.3) ** 2 + 2 * (y + 0.5 - shift) ** 2 + 0.15 * (layers - 3) ** 2
            + 0.4 * abs(math.log2(width / 64)) + 0.4)


def conditional(optimizer: str, learning_rate: float, momentum: float = 0.0, beta: float = 0.9) -> float:
    """Which parameters matter depends on the optimizer; the best point is under sgd."""
    a = math.log10(learning_rate) + 2
    if optimizer == "sgd":
        return a * a + 4 * (momentum - 0.8) ** 2
    return 0.5 + a * a + 2 * (beta - 0.95) ** 2


def noisy_branin(x1: float, x2: float) -> float:
    """Branin seen through noise (sd 2), as a trainer's validation loss varies from run to run."""
    return branin(x1, x2) + random.gauss(0, 2)


PROBLEMS = {
    "branin": (branin, {"x1": {"type": "double", "min": -5, "max": 10},
                        "x2": {"type": "double", "min": 0, "max": 15}}),
    "hartmann6": (hartmann6, {f"x{i}": {"type": "double", "min": 0, "max": 1} for i in range(1, 7)}),
    "log_scaled": (log_scaled, {"learning_rate": {"type": "double", "min": 1e-5, "max": 1, "scale": "log"},
                                "weight_decay": {"type": "double", "min": 1e-7, "max": 1e-1, "scale": "log"}}),
    "mixed": (mixed, {"x": {"type": "double", "min": -1, "max": 1}, "y": {"type": "double", "min": -1, "max": 1},
                      "layers": {"type": "integer", "min": 1, "max": 6},
                      "width": {"type": "discrete", "values": [16, 32, 64, 128, 256]},
                      "activation": {"type": "categorical", "values": ["relu", "tanh", "gelu"]}}),
    "conditional": (conditional, {
        "optimizer": {"type": "categorical", "values": ["sgd", "adam"]},
        "learning_rate": {"type": "double", "min": 1e-5, "max": 1, "scale": "log"},
        "momentum": {"type": "double", "min": 0, "max": 0.99, "when": {"optimizer": ["sgd"]}},
        "beta": {"type": "double", "min": 0.5, "max": 0.999, "when": {"optimizer": ["adam"]}}}),
    "noisy_branin": (noisy_branin, {"x1": {"type": "double", "min": -5, "max": 10},
                                    "x2": {"type": "double", "min": 0, "max": 15}}),
}
OPTIMA = {"branin": 0.397887, "hartmann6": -3.32237, "log_scaled": 0.0, "mixed": 0.40, "conditional": 0.0,
          "noisy_branin": 0.397887}


def main(argv: list[str] | None = None) -> None:
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--problem", choices=sorted(PROBLEMS), required=True)
    known, rest = first.parse_known_args(argv)
    function, parameters = PROBLEMS[known.problem]
    parser = argparse.ArgumentParser(prog=f"python -m bench.problems --problem={known.problem}")
    for pid, p in parameters.items():
        kind = {"double": float, "discrete": float, "integer": lambda v: int(float(v))}.get(p["type"], str)
        parser.add_argument(f"--{pid}", type=kind, required="when" not in p)
    values = {k: v for k, v in vars(parser.parse_args(rest)).items() if v is not None}
    print(f"loss: {function(**values)!r}", flush=True)


if __name__ == "__main__":
    main()
