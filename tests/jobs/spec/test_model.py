"""A valid spec: the shipped one, defaults, a trial's command line, grid size, advisories, and properties of
generated specs."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.spec import CategoricalParameter, DiscreteParameter, DoubleParameter, Trials, load_spec, parse_spec
from tests.support.specs import BASE, PARAMS, minimal, mutated
from trainer.cli import build_parser

DEFAULT = Path(__file__).resolve().parents[3] / "jobs" / "specs" / "breast-cancer.yaml"


def test_shipped_default_spec_loads_and_fits_the_trainer():
    spec = load_spec(DEFAULT)
    assert spec.name == "breast-cancer-mlp"
    assert (spec.metric.id, spec.metric.goal) == ("validation_loss", "minimize")
    assert list(spec.parameters) == ["learning_rate", "patience", "min_delta", "hidden", "layers", "dropout",
                                     "batch_size"]
    assert spec.parameters["learning_rate"] == DoubleParameter(type="double", min=1e-4, max=1e-1, scale="log")
    assert spec.parameters["batch_size"] == DiscreteParameter(type="discrete", values=[0, 32, 64, 128])
    assert (spec.algorithm, spec.measurement, spec.early_stopping) == ("adaptive", "best", "none")
    assert spec.trials == Trials(max=20, parallel=2, max_failed=3)
    assert spec.section("vertex") == {"machine_type": "n1-standard-4", "accelerator_count": 0}
    assert spec.advisories() == []

    # Every tuned id is a trainer flag that takes the values a trial sends (discrete ones as floats).
    lowest = {pid: p.values[0] if isinstance(p, DiscreteParameter) else p.min for pid, p in spec.parameters.items()}
    argv = spec.trial_argv("data/default/", lowest)
    assert argv[:3] == ["python", "-m", "trainer"]
    args = build_parser().parse_args(argv[3:])
    assert (args.train, args.epochs, args.log_every) == ("data/default/train_data.npz", 300, 0)
    assert (args.hidden, args.batch_size, args.learning_rate) == (16, 0, 1e-4)


def test_defaults():
    spec = minimal()
    assert (spec.algorithm, spec.measurement, spec.early_stopping) == ("adaptive", "best", "none")
    assert (spec.trials.parallel, spec.trials.max_failed, spec.trials.failure_limit) == (1, None, None)
    assert (spec.trainer.command, spec.trainer.args) == (["python", "-m", "trainer"], [])
    assert spec.parameters["x"].scale == "linear"
    assert minimal(trials={"max": 4, "max_failed": 1}).trials.failure_limit == 1
    assert minimal(trials={"max": 4, "max_failed": 9}).trials.failure_limit == 4


def test_trial_argv_expands_data_and_appends_active_parameters_in_spec_order():
    spec = parse_spec(copy.deepcopy(BASE), "spec.yaml")
    assignment = {"momentum": 0.5, "optimizer": "sgd", "hidden": 32.0, "patience": 7.0, "learning_rate": 0.001}
    assert spec.trainer_args("gs://bucket/data/") == ["--train=gs://bucket/data/train_data.npz", "--epochs=3"]
    assert spec.trial_argv("gs://bucket/data/", assignment) == [
        "python", "-m", "trainer", "--train=gs://bucket/data/train_data.npz", "--epochs=3",
        "--learning_rate=0.001", "--patience=7", "--hidden=32.0", "--optimizer=sgd", "--momentum=0.5"]
    adam = {**assignment, "optimizer": "adam"}
    assert spec.active(adam) == ["learning_rate", "patience", "hidden", "optimizer"]
    assert spec.trial_argv("d", adam)[-1] == "--optimizer=adam"
    with pytest.raises(ValueError, match="no value for active parameter 'patience'"):
        spec.trial_argv("d", {"learning_rate": 0.01})


def test_a_child_of_an_inactive_parent_is_inactive():
    p = BASE[PARAMS]
    spec = parse_spec(mutated((PARAMS, {
        "learning_rate": p["learning_rate"], "optimizer": p["optimizer"],
        "hidden": {**p["hidden"], "when": {"optimizer": ["adam"]}},
        "patience": {**p["patience"], "when": {"hidden": [64]}}, "momentum": p["momentum"]})), "spec.yaml")
    values = {"learning_rate": 0.01, "patience": 5, "hidden": 64.0, "momentum": 0.1}
    assert spec.active({**values, "optimizer": "adam"}) == ["learning_rate", "optimizer", "hidden", "patience"]
    assert spec.active({**values, "optimizer": "adam", "hidden": 32.0}) == ["learning_rate", "optimizer", "hidden"]
    assert spec.active({**values, "optimizer": "sgd"}) == ["learning_rate", "optimizer", "momentum"]


def test_grid_size_counts_conditionals_and_is_none_with_doubles():
    assert parse_spec(copy.deepcopy(BASE), "spec.yaml").grid_size() is None
    spec = parse_spec(mutated((PARAMS, {
        "optimizer": {"type": "categorical", "values": ["adam", "sgd", "adamw"]},
        "momentum": {"type": "discrete", "values": [0.5, 0.9], "when": {"optimizer": ["sgd"]}},
        "nesterov": {"type": "categorical", "values": ["on", "off"], "when": {"momentum": [0.9]}},
        "layers": {"type": "integer", "min": 1, "max": 1_000_000},
    }), ("algorithm", "random")), "spec.yaml")  # a grid search refuses a grid this large
    # adam, adamw, sgd+0.5, sgd+0.9+on, sgd+0.9+off: 5 optimizer settings, times a million layers.
    assert spec.grid_size() == 5_000_000


def test_advisories_follow_the_seed_lessons_guidance():
    spec = minimal(trials={"max": 20, "parallel": 8})
    assert spec.advisories() == ["parallel 8 is above a third of max 20: adaptive search learns less between "
                                 "trials; consider parallel 6 or less, or a larger max"]
    assert minimal(trials={"max": 20, "parallel": 8}, algorithm="random").advisories() == []
    assert minimal(trials={"max": 21, "parallel": 7}).advisories() == []  # exactly a third
    assert minimal(trials={"max": 2, "parallel": 1}).advisories() == []  # nothing left to lower
    assert minimal(trials={"max": 2, "parallel": 2}).advisories()[0].endswith("consider parallel 1 or less, or a "
                                                                              "larger max")
    grid = parse_spec(mutated((PARAMS, {"a": {"type": "integer", "min": 1, "max": 4},
                                        "b": {"type": "categorical", "values": ["x", "y", "z"]}}),
                              ("algorithm", "grid"), ("trials", {"max": 50, "parallel": 50})), "spec.yaml")
    assert grid.advisories() == ["max 50 exceeds the grid's 12 points: the sweep runs 12 trials, as Vertex does"]
    assert grid.model_copy(update={"trials": Trials(max=12, parallel=2)}).advisories() == []


# --- properties of generated valid specs ------------------------------------------------------

IDS = st.lists(st.from_regex(r"p[a-z0-9_]{0,5}", fullmatch=True), min_size=1, max_size=4, unique=True)
CATEGORIES = st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), min_size=1, max_size=3, unique=True)
NUMBERS = st.lists(st.integers(-3, 40) | st.sampled_from([0.25, 0.5, 2.5]), min_size=1, max_size=4,
                   unique_by=float).map(lambda xs: sorted(xs, key=float))


def domain(body: dict) -> list:
    """Every value of a non-double parameter, brute force."""
    if body["type"] == "integer":
        return list(range(body["min"], body["max"] + 1))
    return list(body["values"])


@st.composite
def parameter_bodies(draw, allow_double: bool) -> dict:
    kinds = ["integer", "discrete", "categorical"] + (["double"] if allow_double else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "categorical":
        return {"type": kind, "values": draw(CATEGORIES)}
    scale = draw(st.sampled_from(["linear", "log", "reverse_log"]))
    positive = scale != "linear"
    if kind == "discrete":
        values = draw(NUMBERS.filter(lambda xs: not positive or float(xs[0]) > 0))
        return {"type": kind, "values": values, "scale": scale}
    if kind == "integer":
        low = draw(st.integers(1 if positive else -3, 6))
        return {"type": kind, "min": low, "max": low + draw(st.integers(1, 3)), "scale": scale}
    low, high = sorted(draw(st.lists(st.floats(1e-6 if positive else -1e3, 1e3), min_size=2, max_size=2,
                                     unique=True)))
    return {"type": kind, "min": low, "max": high, "scale": scale}


@st.composite
def spec_dicts(draw, allow_double: bool = True) -> dict:
    parameters: dict[str, dict] = {}
    for pid in draw(IDS):
        body = draw(parameter_bodies(allow_double))
        parents = [p for p, b in parameters.items() if b["type"] != "double"]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            body["when"] = {parent: draw(st.lists(st.sampled_from(domain(parameters[parent])), min_size=1,
                                                  max_size=3, unique=True))}
        parameters[pid] = body
    has_double = any(b["type"] == "double" for b in parameters.values())
    size = draw(st.integers(1, 40))
    accelerator = draw(st.booleans())
    return {
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)),
        "metric": {"id": draw(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)),
                   "goal": draw(st.sampled_from(["maximize", "minimize"]))},
        "parameters": parameters,
        "algorithm": draw(st.sampled_from(["adaptive", "random"] + ([] if has_double else ["grid"]))),
        "measurement": draw(st.sampled_from(["best", "last"])),
        "early_stopping": draw(st.sampled_from(["none", "median", "decay_curve"])),
        "trials": {"max": size, "parallel": draw(st.integers(1, size)),
                   "max_failed": draw(st.none() | st.integers(1, 5))},
        "trainer": {"command": ["python", "-m", "trainer"],
                    "args": draw(st.lists(st.sampled_from(["--train={data}/t.npz", "--epochs=3", "--seed=1"])))},
        "vertex": {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4" if accelerator else None,
                   "accelerator_count": int(accelerator)},
    }


def grid_points(parameters: dict[str, dict]) -> int:
    """Distinct settings of the active parameters over every combination of values."""
    points = set()
    for combo in itertools.product(*(domain(body) for body in parameters.values())):
        assignment = dict(zip(parameters, combo))
        points.add(frozenset((pid, assignment[pid]) for pid in parameters if is_active(parameters, pid, assignment)))
    return len(points)


def is_active(parameters: dict[str, dict], pid: str, assignment: dict) -> bool:
    """The reference rule: no condition, or an active parent set to a listed value."""
    when = parameters[pid].get("when")
    if not when:
        return True
    [(parent, values)] = when.items()
    return is_active(parameters, parent, assignment) and assignment[parent] in values


@st.composite
def assignments(draw, parameters: dict[str, dict]) -> dict:
    drawn = {}
    for pid, body in parameters.items():
        if body["type"] == "double":
            drawn[pid] = draw(st.floats(body["min"], body["max"]))
        else:
            drawn[pid] = draw(st.sampled_from(domain(body)))
    return drawn


@settings(max_examples=60, deadline=None)
@given(data=spec_dicts())
def test_a_valid_spec_dumps_to_yaml_and_loads_back_equal(data, tmp_path_factory):
    spec = parse_spec(data, "generated.yaml")
    path = tmp_path_factory.mktemp("roundtrip") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(), sort_keys=False))
    loaded = load_spec(path)
    assert loaded == spec
    assert list(loaded.parameters) == list(data["parameters"])


@settings(max_examples=80, deadline=None)
@given(data=spec_dicts(allow_double=False))
def test_grid_size_equals_the_distinct_points_of_a_brute_force_enumeration(data):
    assert parse_spec(data, "generated.yaml").grid_size() == grid_points(data["parameters"])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_trial_argv_has_one_flag_per_active_parameter_and_none_for_inactive(data):
    raw = data.draw(spec_dicts())
    spec = parse_spec(raw, "generated.yaml")
    assignment = data.draw(assignments(raw["parameters"]))
    argv = spec.trial_argv("gs://b/data/", assignment)
    prefix = [*spec.trainer.command, *spec.trainer_args("gs://b/data")]
    assert argv[:len(prefix)] == prefix and all("{data}" not in arg for arg in argv)
    for pid, parameter in spec.parameters.items():
        flags = [arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{pid}=")]
        if not is_active(raw["parameters"], pid, assignment):
            assert flags == []
            continue
        [sent] = flags
        if isinstance(parameter, CategoricalParameter):
            assert sent == assignment[pid]
        else:
            assert float(sent) == assignment[pid]
            assert sent.lstrip("-").isdigit() == isinstance(assignment[pid], int)  # 5, but 5.0 and 0.001
    assert len(argv) == len(prefix) + len(spec.active(assignment))


@settings(max_examples=80, deadline=None)
@given(data=spec_dicts())
def test_advisories_fire_exactly_when_the_rules_say(data):
    notes = parse_spec(data, "generated.yaml").advisories()
    trials, grid = data["trials"], data["algorithm"] == "grid"
    size = grid_points(data["parameters"]) if grid else None
    crowded = data["algorithm"] == "adaptive" and trials["parallel"] > 1 and 3 * trials["parallel"] > trials["max"]
    short_grid = grid and trials["max"] > size
    assert [n for n in notes if "above a third of max" in n] == (
        [f"parallel {trials['parallel']} is above a third of max {trials['max']}: adaptive search learns less "
         f"between trials; consider parallel {max(1, trials['max'] // 3)} or less, or a larger max"] if crowded else [])
    assert [n for n in notes if "exceeds the grid" in n] == (
        [f"max {trials['max']} exceeds the grid's {size} points: the sweep runs {size} trials, as Vertex does"]
        if short_grid else [])
    assert len(notes) == crowded + short_grid
