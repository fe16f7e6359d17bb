"""A trainer that is not the reference one (examples/logistic-trainer) runs locally from its command, the
same spec that runs it on Vertex AI's package route (tests/jobs/vertex/test_package_route.py)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from jobs.spec import SpecError
from tests.support.helpers import REPO, copy_example_trainer, make_split
from tests.support.sweeps import records_of, tune_local


@pytest.fixture
def example(tmp_path):
    """The example's folder, its spec cut to 2 trials, and a small split in tmp_path/data."""
    folder = copy_example_trainer(tmp_path / "logistic", trials={"max": 2, "parallel": 1})
    make_split(tmp_path / "data", rows=120)
    return folder


def test_it_runs_locally_where_its_package_can_be_imported(example, tmp_path, monkeypatch):
    from jobs.local.backend import LocalBackend

    monkeypatch.chdir(example)  # python -m finds the package in the working folder, as after pip install -e
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200)
    status = tune_local("spec.yaml", data_root=str(tmp_path / "data"), run_id="lr", runs_dir=tmp_path / "runs",
                        console=console)
    assert status == 0, (tmp_path / "out.txt").read_text()
    records = records_of(LocalBackend(), "lr", tmp_path / "runs")
    assert [r.state for r in records] == ["SUCCEEDED", "SUCCEEDED"]
    for record in records:
        metrics = json.loads((tmp_path / "runs" / "lr" / "artifacts" / record.trial_id / "model" /
                              "metrics.json").read_text())
        assert metrics["l2"] == pytest.approx(record.parameters["l2"]) and 0 < metrics["final_val_loss"] < 1


def test_a_package_this_python_cannot_import_is_named_before_any_trial(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match=r"cannot import logistic_trainer from here: pip install -e "
                                        rf"{example}.*\(trainer.package\)"):
        tune_local(str(example / "spec.yaml"), data_root=str(tmp_path / "data"), run_id="lr",
                   runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_trainer_installed_in_this_environment_is_found_from_any_folder(tmp_path, monkeypatch):
    from jobs.local.backend import _unimportable
    from jobs.spec import load_spec

    monkeypatch.chdir(tmp_path)  # the reference trainer is installed (editable), not in this folder
    assert _unimportable(load_spec(REPO / "jobs" / "specs" / "breast-cancer.yaml"), "spec.yaml") == []
