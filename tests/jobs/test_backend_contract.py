"""What every backend promises, run on each one as Optuna runs one sampler suite over every sampler: local (this
machine), vertex (on its JobService stand-in) and sandbox (tests/support/sandbox_backend.py, a third backend that
registers itself without any change to the spec, run or report modules)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from jobs import backends
from jobs.registry import registered, section_names
from jobs.report import report
from jobs.run.folder import RunFolder
from jobs.spec import SpecError, load_spec
from jobs.trial.record import TrialState
from tests.support import sandbox_backend
from tests.support.sweeps import on_run, records_of, tune_with
from tests.support.vertex import SERVED, TOY, backend_for, read, write_outputs
from tests.support.vertex_standin import VertexStandIn

BACKENDS = ["local", "vertex", "sandbox"]


@pytest.fixture(params=BACKENDS)
def kind(request, tmp_path, monkeypatch):
    """(the backend, the TuneRequest fields it needs beyond the common ones), the sandbox one installed as a package
    declares a backend: an entry point in the group sweeps.backends."""
    monkeypatch.syspath_prepend(str(sandbox_backend.install(tmp_path / "site")))
    registered.cache_clear()
    request.addfinalizer(registered.cache_clear)
    if request.param == "local":
        from jobs.local.backend import LocalBackend

        yield LocalBackend(warm=False), {}
    elif request.param == "sandbox":
        yield backends.backend("sandbox"), {}
    else:  # its trials' artifacts on the GCS emulator, where the report reads them
        bucket = request.getfixturevalue("bucket")
        with VertexStandIn(tmp_path / "vertex", entrypoint=TOY, today=SERVED) as standin:
            yield backend_for(standin), {"outputs": str(write_outputs(tmp_path / "outputs.json", bucket))}


def toy_spec(tmp_path, **changes) -> str:
    spec = {"name": "toy", "metric": {"id": "loss", "goal": "minimize"},
            "parameters": {"x": {"type": "double", "min": -2.0, "max": 3.0},
                           "y": {"type": "integer", "min": -3, "max": 0}},
            "trials": {"max": 2, "parallel": 1},
            "trainer": {"command": TOY, "args": ["--steps=2"]}, **changes}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def test_it_is_registered_and_declares_its_options(kind):
    chosen, _ = kind
    assert chosen.name in registered() and chosen.name in section_names()
    options = dataclasses.fields(chosen.options)
    assert all(f.default in (None, False) for f in options)  # a flag not given is None or False
    assert chosen.resumable <= {f.name for f in options}


def test_it_checks_its_own_section_and_no_other(kind, tmp_path):
    chosen, _ = kind
    spec = load_spec(toy_spec(tmp_path))
    chosen.check(spec, "spec.yaml")  # no section: its defaults
    others = {name: {"no_such_setting": 1} for name in section_names() if name != chosen.name}
    chosen.check(load_spec(toy_spec(tmp_path, **others)), "spec.yaml")  # the other backends' sections are theirs
    with pytest.raises(SpecError, match=f"spec.yaml: {chosen.name}"):
        chosen.check(load_spec(toy_spec(tmp_path, **{chosen.name: {"no_such_setting": 1}})), "spec.yaml")


def test_a_flag_it_does_not_take_is_refused(kind, tmp_path):
    chosen, fields = kind
    foreign = next(f.name for name in ("local", "vertex") if name != chosen.name
                   for f in dataclasses.fields(backends.backend(name).options))
    with pytest.raises(Exception, match=f"--{foreign.replace('_', '-')} is not for the {chosen.name} backend"):
        tune_with(chosen, toy_spec(tmp_path), runs_dir=tmp_path / "runs", **{**fields, foreign: "1"})


def test_a_dry_run_plans_and_runs_nothing(kind, tmp_path, console):
    chosen, fields = kind
    assert tune_with(chosen, toy_spec(tmp_path), console=console, dry_run=True, runs_dir=tmp_path / "runs",
                     **fields) == 0
    assert "toy: adaptive search, minimize loss" in read(console)
    assert not (tmp_path / "runs").exists()


def test_a_sweep_runs_names_its_best_trial_and_its_records_make_a_report(kind, tmp_path, console):
    chosen, fields = kind
    runs = tmp_path / "runs"
    assert tune_with(chosen, toy_spec(tmp_path), console=console, run_id="r", runs_dir=runs, **fields) == 0
    assert "best trial: " in read(console)
    assert json.loads((runs / "r" / "run.json").read_text())["backend"] == chosen.name
    records = records_of(chosen, "r", runs)
    assert [r.state for r in records] == [TrialState.SUCCEEDED] * 2 and all(r.objective is not None for r in records)
    assert on_run(chosen, "status", "r", console, runs) == 0
    assert report(["r"], latest=False, out=None, runs_dir=runs, console=console, choose=lambda name: chosen) == 0
    assert (RunFolder(runs / "r").root / "report.md").exists()
