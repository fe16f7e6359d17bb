"""The sweep spec: the shipped spec, one message per broken rule, and properties of valid specs."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.spec import (CategoricalParameter, DiscreteParameter, DoubleParameter, Spec, SpecError, Trials,
                       load_runnable_spec, load_spec, parse_spec)
from trainer.cli import build_parser

DEFAULT = Path(__file__).resolve().parents[2] / "jobs" / "specs" / "breast-cancer.yaml"

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


def problems_of(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "spec.yaml")
    return str(caught.value)


# --- the shipped spec -------------------------------------------------------------------------


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
    assert (spec.vertex.machine_type, spec.vertex.accelerator_type, spec.vertex.accelerator_count) == (
        "n1-standard-4", None, 0)
    assert spec.advisories() == []

    # Every tuned id is a trainer flag that takes the values a trial sends (discrete ones as floats).
    lowest = {pid: p.values[0] if isinstance(p, DiscreteParameter) else p.min for pid, p in spec.parameters.items()}
    argv = spec.trial_argv("data/default/", lowest)
    assert argv[:3] == ["python", "-m", "trainer"]
    args = build_parser().parse_args(argv[3:])
    assert (args.train, args.epochs, args.log_every) == ("data/default/train_data.npz", 300, 0)
    assert (args.hidden, args.batch_size, args.learning_rate) == (16, 0, 1e-4)


# --- one message per broken rule --------------------------------------------------------------

PARAMS = "parameters"
MALFORMED = [
    # name and metric
    ("name-uppercase", [("name", "Titanic")], "spec.yaml: name: must be 1 to 41 characters"),
    ("name-too-long", [("name", "a" * 42)], "spec.yaml: name: must be 1 to 41 characters"),
    ("name-missing", [("name", DROP)], "spec.yaml: name: required, but missing"),
    ("name-not-string", [("name", 7)], "spec.yaml: name: must be a string, got 7"),
    ("unknown-top-key", [("algoritm", "grid")],
     "spec.yaml: algoritm: unknown key; did you mean 'algorithm'? allowed keys: name, metric, parameters"),
    ("metric-goal", [("metric.goal", "max")], "spec.yaml: metric.goal: must be 'maximize' or 'minimize', got 'max'"),
    ("metric-id", [("metric.id", "val-acc")], "spec.yaml: metric.id: must start with a letter and hold only"),
    ("metric-extra", [("metric.name", "acc")], "spec.yaml: metric.name: unknown key; allowed keys: id, goal"),
    ("metric-not-mapping", [("metric", "validation_accuracy")], "spec.yaml: metric: must be a mapping, got"),
    # the parameter set
    ("no-parameters", [(PARAMS, {})], "spec.yaml: parameters: must not be empty"),
    ("too-many-parameters", [(PARAMS, {f"p{i}": {"type": "integer", "min": 0, "max": 1} for i in range(101)})],
     "spec.yaml: parameters: has 101 items; at most 100 are allowed"),
    ("parameter-id", [(f"{PARAMS}.learning-rate", {"type": "double", "min": 0, "max": 1})],
     "spec.yaml: parameters.learning-rate: must start with a letter and hold only letters, digits and '_'"),
    ("parameter-not-mapping", [(f"{PARAMS}.learning_rate", 0.1)],
     "spec.yaml: parameters.learning_rate: must be a mapping, got 0.1"),
    ("type-unknown", [(f"{PARAMS}.learning_rate.type", "float")],
     "spec.yaml: parameters.learning_rate.type: must be one of 'double', 'integer', 'discrete', 'categorical', "
     "got 'float'"),
    ("type-missing", [(f"{PARAMS}.learning_rate.type", DROP)],
     "spec.yaml: parameters.learning_rate.type: required, but missing"),
    # double and integer ranges
    ("double-min-not-below-max", [(f"{PARAMS}.learning_rate.min", 0.5)],
     "spec.yaml: parameters.learning_rate.min: must be less than max (0.1), got 0.5"),
    ("log-needs-positive-min", [(f"{PARAMS}.learning_rate.min", 0.0)],
     "spec.yaml: parameters.learning_rate.min: must be > 0 with scale log (Vertex AI requires it), got 0.0"),
    ("reverse-log-integer", [(f"{PARAMS}.patience.scale", "reverse_log"), (f"{PARAMS}.patience.min", 0)],
     "spec.yaml: parameters.patience.min: must be > 0 with scale reverse_log"),
    ("double-missing-max", [(f"{PARAMS}.learning_rate.max", DROP)],
     "spec.yaml: parameters.learning_rate.max: required, but missing"),
    ("integer-fractional-min", [(f"{PARAMS}.patience.min", 1.5)],
     "spec.yaml: parameters.patience.min: must be an integer, got 1.5"),
    ("integer-boolean-max", [(f"{PARAMS}.patience.max", True)],
     "spec.yaml: parameters.patience.max: must be an integer, got true"),
    ("integer-equal-bounds", [(f"{PARAMS}.patience.max", 5)],
     "spec.yaml: parameters.patience.min: must be less than max (5), got 5"),
    ("scale-unknown", [(f"{PARAMS}.patience.scale", "exp")],
     "spec.yaml: parameters.patience.scale: must be 'linear', 'log' or 'reverse_log', got 'exp'"),
    ("double-nan", [(f"{PARAMS}.learning_rate.max", float("nan"))],
     "spec.yaml: parameters.learning_rate.max: must be a finite number, got nan"),
    # discrete
    ("discrete-empty", [(f"{PARAMS}.hidden.values", [])], "spec.yaml: parameters.hidden.values: must not be empty"),
    ("discrete-repeated", [(f"{PARAMS}.hidden.values", [16, 32, 32])],
     "spec.yaml: parameters.hidden.values: must be distinct; repeated: 32"),
    ("discrete-decreasing", [(f"{PARAMS}.hidden.values", [16, 64, 32])],
     "spec.yaml: parameters.hidden.values: must be in increasing order (Vertex AI requires it); 32 comes after 64"),
    ("discrete-log-zero", [(f"{PARAMS}.hidden.values", [0, 16]), (f"{PARAMS}.hidden.scale", "log")],
     "spec.yaml: parameters.hidden.values: must all be > 0 with scale log (Vertex AI requires it), got 0"),
    ("discrete-too-many", [(f"{PARAMS}.hidden.values", list(range(1001)))],
     "spec.yaml: parameters.hidden.values: has 1001 items; at most 1000 are allowed"),
    ("discrete-string", [(f"{PARAMS}.hidden.values", [16, "x"])],
     "spec.yaml: parameters.hidden.values[1]: must be a number, got 'x'"),
    # categorical
    ("categorical-boolean", [(f"{PARAMS}.optimizer.values", ["adam", True])],
     "spec.yaml: parameters.optimizer.values[1]: got true: YAML reads unquoted yes/no/on/off/true/false as "
     "booleans; quote it"),
    ("categorical-number", [(f"{PARAMS}.optimizer.values", [1, "sgd"])],
     "spec.yaml: parameters.optimizer.values[0]: 1 is a number; categorical values are strings"),
    ("categorical-repeated", [(f"{PARAMS}.optimizer.values", ["adam", "sgd", "adam"])],
     "spec.yaml: parameters.optimizer.values: must be distinct; repeated: adam"),
    ("categorical-empty-string", [(f"{PARAMS}.optimizer.values", ["", "sgd"])],
     "spec.yaml: parameters.optimizer.values[0]: must not be an empty string"),
    ("categorical-empty", [(f"{PARAMS}.optimizer.values", [])],
     "spec.yaml: parameters.optimizer.values: must not be empty"),
    ("categorical-scale", [(f"{PARAMS}.optimizer.scale", "log")],
     "spec.yaml: parameters.optimizer.scale: unknown key; allowed keys: type, values, when"),
    # conditions
    ("when-two-parents", [(f"{PARAMS}.momentum.when", {"optimizer": ["sgd"], "patience": [5]})],
     "spec.yaml: parameters.momentum.when: must name exactly one parent parameter, got optimizer, patience"),
    ("when-no-values", [(f"{PARAMS}.momentum.when", {"optimizer": []})],
     "spec.yaml: parameters.momentum.when.optimizer: must list at least one value of optimizer"),
    ("when-not-a-list", [(f"{PARAMS}.momentum.when", {"optimizer": "sgd"})],
     "spec.yaml: parameters.momentum.when.optimizer: must be a list, got 'sgd'"),
    ("when-unknown-parent", [(f"{PARAMS}.momentum.when", {"optimiser": ["sgd"]})],
     "spec.yaml: parameters.momentum.when: names 'optimiser', which is not a parameter"),
    ("when-self", [(f"{PARAMS}.momentum.when", {"momentum": [0.5]})],
     "spec.yaml: parameters.momentum.when: momentum cannot depend on itself"),
    ("when-double-parent", [(f"{PARAMS}.momentum.when", {"learning_rate": [0.01]})],
     "spec.yaml: parameters.momentum.when: learning_rate is double; a conditional parent must be integer, "
     "discrete or categorical"),
    ("when-category-unknown", [(f"{PARAMS}.momentum.when", {"optimizer": ["rmsprop"]})],
     "spec.yaml: parameters.momentum.when.optimizer[0]: 'rmsprop' is not one of optimizer's values (adam, sgd)"),
    ("when-integer-out-of-range", [(f"{PARAMS}.momentum.when", {"patience": [5, 30]})],
     "spec.yaml: parameters.momentum.when.patience[1]: 30 is outside patience's range 5..20"),
    ("when-discrete-unknown", [(f"{PARAMS}.momentum.when", {"hidden": [48]})],
     "spec.yaml: parameters.momentum.when.hidden[0]: 48 is not one of hidden's values (16, 32, 64)"),
    ("when-cycle", [(f"{PARAMS}.patience.when", {"hidden": [16]}), (f"{PARAMS}.hidden.when", {"patience": [5]})],
     "spec.yaml: parameters.patience.when: conditions form a cycle: patience -> hidden -> patience"),
    ("when-parent-listed-later", [(PARAMS, {"momentum": BASE[PARAMS]["momentum"], **BASE[PARAMS]})],
     "spec.yaml: parameters.momentum.when: parent optimizer must be listed before momentum"),
    # search
    ("grid-with-doubles", [("algorithm", "grid")],
     "spec.yaml: algorithm: grid needs every parameter integer, discrete or categorical; "
     "double: learning_rate, momentum"),
    ("algorithm-unknown", [("algorithm", "bayesian")],
     "spec.yaml: algorithm: must be 'adaptive', 'random' or 'grid', got 'bayesian'"),
    ("measurement-unknown", [("measurement", "mean")], "spec.yaml: measurement: must be 'best' or 'last', got 'mean'"),
    ("early-stopping-unknown", [("early_stopping", "always")],
     "spec.yaml: early_stopping: must be 'none', 'median' or 'decay_curve', got 'always'"),
    # trials
    ("trials-missing", [("trials", DROP)], "spec.yaml: trials: required, but missing"),
    ("trials-max-zero", [("trials.max", 0)], "spec.yaml: trials.max: must be >= 1, got 0"),
    ("parallel-above-max", [("trials.parallel", 11)], "spec.yaml: trials.parallel: must be at most max (10), got 11"),
    ("parallel-zero", [("trials.parallel", 0)], "spec.yaml: trials.parallel: must be >= 1, got 0"),
    ("max-failed-negative", [("trials.max_failed", -1)],
     "spec.yaml: trials.max_failed: must be >= 1: the sweep stops when this many trials have failed; leave it out "
     "never to stop for failures, got -1"),
    ("max-failed-zero", [("trials.max_failed", 0)],
     "spec.yaml: trials.max_failed: must be >= 1: the sweep stops when this many trials have failed; leave it out "
     "never to stop for failures, got 0"),
    ("trials-typo", [("trials.paralel", 2)],
     "spec.yaml: trials.paralel: unknown key; did you mean 'parallel'? allowed keys: max, parallel, max_failed"),
    # trainer
    ("command-empty", [("trainer.command", [])], "spec.yaml: trainer.command: must not be empty"),
    ("command-string", [("trainer.command", "python -m trainer")],
     "spec.yaml: trainer.command: must be a list, got 'python -m trainer'"),
    ("args-unknown-placeholder", [("trainer.args", ["--train={data}/t.npz", "--out={bucket}/x"])],
     "spec.yaml: trainer.args[1]: unknown placeholder {bucket}; only {data} is supported"),
    ("args-set-tuned-flag", [("trainer.args", ["--epochs=3", "--learning_rate=0.1"])],
     "spec.yaml: trainer.args[1]: sets --learning_rate, which the tuner appends for parameter learning_rate"),
    ("args-bare-tuned-flag", [("trainer.args", ["--patience", "7"])],
     "spec.yaml: trainer.args[0]: sets --patience, which the tuner appends"),
    ("args-number", [("trainer.args", ["--epochs", 300])], "spec.yaml: trainer.args[1]: must be a string, got 300"),
    # vertex
    ("accelerator-count-without-type", [("vertex.accelerator_count", 1)],
     "spec.yaml: vertex.accelerator_type: is required when accelerator_count is 1"),
    ("accelerator-type-without-count", [("vertex.accelerator_type", "NVIDIA_TESLA_T4")],
     "spec.yaml: vertex.accelerator_count: must be > 0 when accelerator_type is 'NVIDIA_TESLA_T4'"),
    ("accelerator-count-negative", [("vertex.accelerator_count", -1)],
     "spec.yaml: vertex.accelerator_count: must be >= 0, got -1"),
    ("machine-type-empty", [("vertex.machine_type", "")], "spec.yaml: vertex.machine_type: must not be empty"),
    ("vertex-unknown-key", [("vertex.region", "us-central1")], "spec.yaml: vertex.region: unknown key"),
]


def test_base_spec_is_valid():
    assert parse_spec(copy.deepcopy(BASE), "spec.yaml").name == "demo"


@pytest.mark.parametrize("changes, expected", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_spec_names_file_field_and_reason(changes, expected):
    message = problems_of(mutated(*changes))
    assert expected in message
    assert all(line.startswith("spec.yaml: ") for line in message.splitlines())


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as caught:
        parse_spec(mutated(("name", "Demo"), ("metric.goal", "up"), ("trials.max", 0),
                           (f"{PARAMS}.hidden.values", [32, 16])), "spec.yaml")
    assert isinstance(caught.value, ValueError)
    assert [path for path, _ in caught.value.problems] == ["name", "metric.goal", "parameters.hidden.values",
                                                           "trials.max"]
    assert len(str(caught.value).splitlines()) == 4


def test_cross_field_problems_are_reported_together():
    with pytest.raises(SpecError) as caught:
        parse_spec(mutated(("algorithm", "grid"), (f"{PARAMS}.momentum.when", {"optimizer": ["nag"]}),
                           ("trainer.args", ["--patience=3"])), "spec.yaml")
    assert [path for path, _ in caught.value.problems] == ["parameters.momentum.when.optimizer[0]", "algorithm",
                                                           "trainer.args[0]"]


def test_a_spec_that_is_not_a_mapping():
    assert problems_of(["name", "demo"]) == (
        "spec.yaml: expected a mapping with name, metric, parameters and trials, got ['name', 'demo']")


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def load_problems(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return str(caught.value)


def test_load_reports_yaml_syntax_errors_with_their_line(tmp_path):
    path = write(tmp_path, "name: demo\nmetric: {id: acc, goal: maximize\nparameters: {}\n")
    message = load_problems(path)
    assert message.startswith(f"{path}: line 3, column ")
    assert "YAML syntax error" in message
    # A {placeholder} inside a flow list is a YAML error, not a field error.
    flow = "name: demo\ntrainer:\n  args: [--train={data}/train_data.npz]\n"
    assert load_problems(write(tmp_path, flow)) == (
        f"{path}: line 3, column 18: YAML syntax error: expected ',' or ']', but got '{{'")


def test_load_reports_unreadable_files(tmp_path):
    assert load_problems(tmp_path / "absent.yaml") == (
        f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory")
    assert load_problems(tmp_path) == f"{tmp_path}: cannot read the file: Is a directory"
    assert load_problems(write(tmp_path, b"name: \xff\n")).endswith("cannot read the file: it is not UTF-8 text")


def test_load_rejects_duplicate_keys(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False).replace("  patience:", "  learning_rate: {type: integer}\n  patience:")
    message = load_problems(write(tmp_path, text))
    assert "YAML syntax error: duplicate key 'learning_rate'" in message
    assert message.startswith(f"{tmp_path / 'spec.yaml'}: line ")


def test_load_of_an_empty_file(tmp_path):
    assert load_problems(write(tmp_path, "")).endswith("expected a mapping with name, metric, parameters and trials, "
                                                       "got nothing")


def test_load_names_field_paths_and_quotes_yaml_booleans(tmp_path):
    text = yaml.safe_dump(mutated(("trials.max", 0)), sort_keys=False).replace("- adam", "- yes")
    lines = load_problems(write(tmp_path, text)).splitlines()
    assert lines == [
        f"{tmp_path / 'spec.yaml'}: parameters.optimizer.values[0]: got true: YAML reads unquoted "
        "yes/no/on/off/true/false as booleans; quote it, e.g. \"yes\"",
        f"{tmp_path / 'spec.yaml'}: trials.max: must be >= 1, got 0",
    ]


def test_load_reads_exponents_without_a_dot_as_numbers(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False)
    text = text.replace("min: 0.0001", "min: 1e-4").replace("max: 0.1", "max: 1E-1")
    assert "1e-4" in text and yaml.safe_load(text)["parameters"]["learning_rate"]["min"] == "1e-4"
    spec = load_spec(write(tmp_path, text))
    assert (spec.parameters["learning_rate"].min, spec.parameters["learning_rate"].max) == (1e-4, 0.1)


# --- behaviour of a valid spec ----------------------------------------------------------------


def minimal(**extra: object) -> Spec:
    return parse_spec({"name": "m", "metric": {"id": "loss", "goal": "minimize"},
                       "parameters": {"x": {"type": "integer", "min": 1, "max": 3}}, "trials": {"max": 4}, **extra},
                      "m.yaml")


def test_defaults():
    spec = minimal()
    assert (spec.algorithm, spec.measurement, spec.early_stopping) == ("adaptive", "best", "none")
    assert (spec.trials.parallel, spec.trials.max_failed, spec.trials.failure_limit) == (1, None, 4)
    assert (spec.trainer.command, spec.trainer.args) == (["python", "-m", "trainer"], [])
    assert (spec.vertex.machine_type, spec.vertex.accelerator_type, spec.vertex.accelerator_count) == (
        "n1-standard-4", None, 0)
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
    }), ("algorithm", "grid")), "spec.yaml")
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


def test_the_reference_trainer_is_ranked_only_by_a_metric_it_reports(tmp_path):
    """Vertex AI reads only the hypertune reports: a metric the trainer never reports ends every trial INFEASIBLE
    there, while locally a printed line could have hidden it. Another trainer may report what it likes."""
    spec = {"name": "m", "metric": {"id": "val_auc", "goal": "maximize"}, "trials": {"max": 4},
            "parameters": {"x": {"type": "integer", "min": 1, "max": 3}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="metric.id: the reference trainer .python -m trainer. reports only "
                                        "validation_accuracy, validation_loss"):
        load_runnable_spec(path)
    path.write_text(yaml.safe_dump({**spec, "metric": {"id": "validation_loss", "goal": "minimize"}}))
    assert load_runnable_spec(path).metric.id == "validation_loss"
    path.write_text(yaml.safe_dump({**spec, "trainer": {"command": ["python", "train.py"]}}))
    assert load_runnable_spec(path).metric.id == "val_auc"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\nname: x\n")
    with pytest.raises(SpecError, match="bomb.yaml: the YAML expands to more than 100,000 values"):
        load_spec(bomb)
    shared = tmp_path / "shared.yaml"  # a few aliases are fine
    shared.write_text("name: s\nmetric: {id: m, goal: maximize}\ntrials: {max: 2}\ntrainer: {command: [x]}\n"
                      "parameters:\n  a: &range {type: integer, min: 1, max: 3}\n  b: *range\n")
    assert list(load_spec(shared).parameters) == ["a", "b"]


def test_large_value_lists_are_checked_in_one_pass_and_capped(tmp_path):
    many = minimal(parameters={"c": {"type": "categorical", "values": [f"v{i}" for i in range(1000)]}})
    assert len(many.parameters["c"].values) == 1000
    with pytest.raises(SpecError, match="parameters.c.values: has 20000 items; at most 1000 are allowed"):
        minimal(parameters={"c": {"type": "categorical", "values": [f"v{i}" for i in range(20000)]}})
    with pytest.raises(SpecError, match="repeated: v1, v7"):
        minimal(parameters={"c": {"type": "categorical", "values": ["v1", "v7", "v2", "v7", "v1"]}})


def test_a_deeply_nested_file_is_one_clear_error(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(SpecError, match="deep.yaml: the YAML is nested too deeply to be a spec"):
        load_spec(deep)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(SpecError, match="the file is 1,100,003 bytes; a spec is at most 1,000,000"):
        load_spec(big)
