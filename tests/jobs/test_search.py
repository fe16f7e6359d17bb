"""The sampler a spec's algorithm gets (jobs/local/search.py), judged by what it does: adaptive search
learns where the optimum is, random search does not, and a seed repeats a search exactly."""

from __future__ import annotations

import warnings

import optuna
import pytest

from jobs.local.search import sampler_for, suggest
from jobs.spec import parse_spec

TRIALS = 40
LATE = 25  # the trials counted: the last 25, after adaptive search's 5 random ones and 10 to learn from
NEAR = 2.0  # f below 2: within sqrt(2) of the optimum, 2π/100 ≈ 6% of the square
SEEDS = (0, 1, 2)


def loss(values: dict) -> float:
    """tests/toy_trainer.py's function: its minimum, 0, at x = 1, y = -2."""
    return (values["x"] - 1) ** 2 + (values["y"] + 2) ** 2


def search(algorithm: str, seed: int) -> list[float]:
    """The loss of each of TRIALS trials asked one after another of ``sampler_for(spec, seed)``."""
    spec = parse_spec({"name": "toy", "metric": {"id": "loss", "goal": "minimize"}, "algorithm": algorithm,
                       "parameters": {"x": {"type": "double", "min": -5, "max": 5},
                                      "y": {"type": "double", "min": -5, "max": 5}},
                       "trials": {"max": TRIALS, "parallel": 1}}, "toy.yaml")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # TPE's multivariate option
        study = optuna.create_study(direction="minimize", sampler=sampler_for(spec, seed))
        values = []
        for _ in range(TRIALS):
            trial = study.ask()
            values.append(loss(suggest(trial, spec)))
            study.tell(trial, values[-1])
    return values


def near_the_optimum(algorithm: str) -> int:
    return sum(value < NEAR for seed in SEEDS for value in search(algorithm, seed)[-LATE:])


def test_adaptive_search_learns_where_the_optimum_is_and_random_search_does_not():
    """Of the last 25 trials of three seeds (75 trials), count those near the optimum. A random draw lands
    there with chance 6%: random search expects 4.7 of 75 and reaches 15 with chance 6e-5, whatever its
    seeds. TPE (the adaptive sampler) put 19 to 27 there for each of 25 seed triples tried (0-74); a
    sampler that does not learn, or that learns only after 40 trials, stays far below 15."""
    counts = {algorithm: near_the_optimum(algorithm) for algorithm in ("adaptive", "random")}
    assert counts["adaptive"] >= 15, counts
    assert counts["random"] < 15, counts  # random search gets no model either


@pytest.mark.parametrize("algorithm", ["adaptive", "random"])
def test_a_seed_repeats_the_search_and_another_seed_differs(algorithm):
    first = search(algorithm, 7)
    assert search(algorithm, 7) == first
    assert search(algorithm, 8)[:5] != first[:5]
