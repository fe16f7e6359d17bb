"""Reading a spec file: unreadable files, YAML errors, duplicate keys, size limits, the reference trainer's metric."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.spec import SpecError, load_runnable_spec, load_spec
from tests.support.specs import BASE, mutated


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


def test_a_deeply_nested_file_is_one_clear_error(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(SpecError, match="deep.yaml: the YAML is nested too deeply to be a spec"):
        load_spec(deep)


@pytest.mark.parametrize("path", ["big.yaml", "/dev/zero"])
def test_a_huge_file_is_refused_after_reading_past_the_limit(tmp_path, path):
    big = tmp_path / path  # an absolute path stays itself; a device has no size (st_size 0) until read
    if path == "big.yaml":
        big.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(SpecError, match="holds more than 1,000,000 bytes, the most a spec may"):
        load_spec(big)
