"""A valid spec to break one field at a time, and the smallest valid spec."""

from __future__ import annotations

import copy

from jobs.spec import Spec, parse_spec

PARAMS = "parameters"
BASE = {
    "name": "demo",
    "metric": {"id": "validation_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
        "patience": {"type": "integer", "min": 5, "max": 20},
        "hidden": {"type": "discrete", "values": [16, 32, 64]},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "momentum": {"type": "double", "min": 0.0, "max": 0.9, "when": {"optimizer": ["sgd"]}},
    },
    "trials": {"max": 10, "parallel": 2, "max_failed": 1},
    "trainer": {"command": ["python", "-m", "trainer"], "args": ["--train={data}/train_data.npz", "--epochs=3"]},
    "vertex": {"machine_type": "n1-standard-4"},
}
DROP = object()


def mutated(*changes: tuple[str, object]) -> dict:
    """BASE with each (dotted path, value) set; DROP removes the key."""
    data = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is DROP:
            del node[key]
        else:
            node[key] = value
    return data


def minimal(**extra: object) -> Spec:
    return parse_spec({"name": "m", "metric": {"id": "loss", "goal": "minimize"},
                       "parameters": {"x": {"type": "integer", "min": 1, "max": 3}}, "trials": {"max": 4}, **extra},
                      "m.yaml")
