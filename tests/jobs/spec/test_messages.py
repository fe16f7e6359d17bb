"""One message per broken rule: file, field and reason, every problem at once."""

from __future__ import annotations

import copy

import pytest

from jobs.spec import SpecError, parse_spec
from tests.support.specs import BASE, DROP, PARAMS, minimal, mutated


def problems_of(data: object) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "spec.yaml")
    return str(caught.value)


MALFORMED = [
    # name and metric
    ("name-uppercase", [("name", "Titanic")], "spec.yaml: name: must be 1 to 41 characters"),
    ("name-too-long", [("name", "a" * 42)], "spec.yaml: name: must be 1 to 41 characters"),
    ("name-missing", [("name", DROP)], "spec.yaml: name: required, but missing"),
    ("name-not-string", [("name", 7)], "spec.yaml: name: must be a string, got 7"),
    ("unknown-top-key", [("algoritm", "grid")],
     "spec.yaml: algoritm: unknown key; did you mean 'algorithm'? allowed keys: name, metric, parameters"),
    ("metric-goal", [("metric.goal", "max")], "spec.yaml: metric.goal: must be 'maximize' or 'minimize', got 'max'"),
    ("metric-id", [("metric.id", "val-acc")], "spec.yaml: metric.id: must be 1 to 64 characters: a letter, then"),
    ("metric-id-too-long", [("metric.id", "m" * 65)], "metric.id: must be 1 to 64 characters"),
    ("metric-extra", [("metric.name", "acc")], "spec.yaml: metric.name: unknown key; allowed keys: id, goal"),
    ("metric-not-mapping", [("metric", "validation_accuracy")], "spec.yaml: metric: must be a mapping, got"),
    # the parameter set
    ("no-parameters", [(PARAMS, {})], "spec.yaml: parameters: must not be empty"),
    ("too-many-parameters", [(PARAMS, {f"p{i}": {"type": "integer", "min": 0, "max": 1} for i in range(101)})],
     "spec.yaml: parameters: has 101 items; at most 100 are allowed"),
    ("parameter-id", [(f"{PARAMS}.learning-rate", {"type": "double", "min": 0, "max": 1})],
     "spec.yaml: parameters.learning-rate: must be 1 to 64 characters: a letter, then letters, digits or '_'"),
    ("parameter-id-too-long", [(f"{PARAMS}.{'p' * 200_000}", {"type": "integer", "min": 0, "max": 1})],
     f"spec.yaml: parameters.{'p' * 61}...: must be 1 to 64 characters: a letter, then letters, digits or '_', "
     f"got '{'p' * 56}... (200,000 characters)"),
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
    ("double-range-past-a-float", [(f"{PARAMS}.momentum.min", -1e308), (f"{PARAMS}.momentum.max", 1e308)],
     "spec.yaml: parameters.momentum.max: the range -1e+308..1e+308 is wider than a float can hold"),
    ("integer-past-int64", [(f"{PARAMS}.patience.max", 2**63)],
     "spec.yaml: parameters.patience.max: must be <= 9223372036854775807, got 9223372036854775808"),
    ("integer-below-int64", [(f"{PARAMS}.patience.min", -(2**63) - 1)],
     "spec.yaml: parameters.patience.min: must be >= -9223372036854775808"),
    ("trials-max-past-int32", [("trials.max", 10**20)],
     "spec.yaml: trials.max: must be <= 2147483647, got 100000000000000000000"),
    ("max-failed-past-int32", [("trials.max_failed", 2**31)], "spec.yaml: trials.max_failed: must be <= 2147483647"),
    ("categorical-nul", [(f"{PARAMS}.optimizer.values", ["adam", "s\0gd"])],
     "spec.yaml: parameters.optimizer.values[1]: holds the control character '\\x00'"),
    ("categorical-newline", [(f"{PARAMS}.optimizer.values", ["adam\n", "sgd"])],
     "spec.yaml: parameters.optimizer.values[0]: holds the control character '\\n'"),
    ("args-nul", [("trainer.args", ["--epochs=3\0"])],
     "spec.yaml: trainer.args[0]: holds a NUL character, which no command line can carry"),
    ("grid-too-large", [("algorithm", "grid"), (f"{PARAMS}.learning_rate", DROP), (f"{PARAMS}.momentum", DROP),
                        (f"{PARAMS}.patience.max", 10**12)],
     "spec.yaml: algorithm: the grid has 5,999,999,999,976 points; grid search takes at most 100,000"),
    ("scale-unknown", [(f"{PARAMS}.patience.scale", "exp")],
     "spec.yaml: parameters.patience.scale: must be 'linear', 'log' or 'reverse_log', got 'exp'"),
    ("double-nan", [(f"{PARAMS}.learning_rate.max", float("nan"))],
     "spec.yaml: parameters.learning_rate.max: must be a finite number, got nan"),
    ("integer-unknown-key", [(f"{PARAMS}.patience.step", 2)],
     "spec.yaml: parameters.patience.step: unknown key; allowed keys: type, min, max, scale, when"),
    ("double-typo", [(f"{PARAMS}.learning_rate.sclae", "log")],
     "spec.yaml: parameters.learning_rate.sclae: unknown key; did you mean 'scale'?"),
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
     "to stop only when the first trial fails, got -1"),
    ("max-failed-zero", [("trials.max_failed", 0)],
     "spec.yaml: trials.max_failed: must be >= 1: the sweep stops when this many trials have failed; leave it out "
     "to stop only when the first trial fails, got 0"),
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
    ("trainer-typo", [("trainer.cmd", ["python"])],
     "spec.yaml: trainer.cmd: unknown key; did you mean 'command'? allowed keys: command, args"),
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


def test_large_value_lists_are_checked_in_one_pass_and_capped():
    many = minimal(parameters={"c": {"type": "categorical", "values": [f"v{i}" for i in range(1000)]}})
    assert len(many.parameters["c"].values) == 1000
    with pytest.raises(SpecError, match="parameters.c.values: has 20000 items; at most 1000 are allowed"):
        minimal(parameters={"c": {"type": "categorical", "values": [f"v{i}" for i in range(20000)]}})
    with pytest.raises(SpecError, match="repeated: v1, v7"):
        minimal(parameters={"c": {"type": "categorical", "values": ["v1", "v7", "v2", "v7", "v1"]}})
