"""The backend is chosen in one place (jobs.backends): by the flag for a new run, by run.json for an existing
one; a flag a backend does not take is refused before anything runs. And what the platform knows of the
reference trainer agrees with the trainer's own declaration."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import pytest
from rich.console import Console

from jobs import backends
from jobs.backends import TuneRequest
from jobs.data.defaults import DEFAULT_SPEC
from jobs.errors import UserError
from jobs.local.backend import LocalBackend, LocalOptions, LocalRun
from jobs.report import report
from jobs.run.folder import RunError, RunFolder
from jobs.trial.command import reported_metrics, unreported_metric
from jobs.trial.environment import ACCELERATOR_ENV
from jobs.vertex.backend import VertexBackend
from tasks.flags import given
from tests.support.sweeps import tune_local


def local_run(tmp_path, run_id: str = "r1") -> RunFolder:
    spec = tmp_path / "spec.yaml"
    shutil.copyfile(DEFAULT_SPEC, spec)
    return RunFolder.create(spec, LocalRun(run_id=run_id, backend="local", spec=str(spec), data_root="data",
                                           trials=3, parallel=1, seed=7), tmp_path / "runs")


@pytest.mark.parametrize(("flag", "value", "backend"), [
    ("seed", 3, "vertex"), ("stack", "team-proj", "local"), ("detach", True, "local"),
    ("minutes_per_trial", 5.0, "local"), ("prices", "p.yaml", "local")])
def test_a_flag_of_the_other_backend_is_refused_before_anything_runs(tmp_path, flag, value, backend):
    request = TuneRequest(spec=str(tmp_path / "no-such-spec.yaml"), runs_dir=tmp_path / "runs", options={flag: value})
    with pytest.raises(UserError, match=f"--{flag.replace('_', '-')} is not for the {backend} backend"):
        backends.tune(request, backend, console=None)
    assert not (tmp_path / "runs").exists()


def test_a_request_is_the_common_fields_plus_the_options_given_which_the_backend_reads_as_its_own():
    assert {f.name for f in dataclasses.fields(TuneRequest)} == {
        "spec", "run_id", "resume", "trials", "parallel", "smoke", "dry_run", "data_root", "trial_timeout", "runs_dir",
        "options", "run"}  # run: the resumed run's folder, which tune opens
    with pytest.raises(TypeError):  # a backend's flag is an option, not a field
        TuneRequest(seed=3)
    request = TuneRequest(options=given(seed=3, stack=None, detach=False))
    assert request.options == {"seed": 3} and request.options_for(LocalOptions) == LocalOptions(seed=3)


def test_a_resumed_run_keeps_the_backend_its_record_names(tmp_path):
    local_run(tmp_path)
    chosen = []
    request, console = TuneRequest(resume="r1", runs_dir=tmp_path / "runs", dry_run=True), Console(file=io.StringIO())
    assert backends.tune(request, None, console, choose=lambda name: chosen.append(name) or LocalBackend()) == 0
    assert chosen == ["local"] and "trials: max 3, parallel 1" in console.file.getvalue()  # the run's own budget
    with pytest.raises(UserError, match="run r1 ran on the local backend; resume it without --backend"):
        backends.tune(request, "vertex", console=None)
    assert "note:" not in console.file.getvalue()
    changed = dataclasses.replace(request, trials=9, options={"seed": 4}, data_root="elsewhere")
    assert backends.tune(changed, None, console, choose=lambda name: LocalBackend()) == 0
    assert ("note: --data-root, --seed, --trials left as run r1 recorded them (its run.json and spec.yaml): a resumed "
            "run keeps its own; start a new run to change them") in console.file.getvalue()
    assert console.file.getvalue().count("trials: max 3, parallel 1") == 2


def test_each_command_reads_run_json_once_and_passes_it_along(tmp_path, monkeypatch):
    local_run(tmp_path)
    reads = []
    read = RunFolder._read_meta
    monkeypatch.setattr(RunFolder, "_read_meta", lambda folder: reads.append(folder.run_id) or read(folder))
    console = Console(file=io.StringIO())
    assert backends.tune(TuneRequest(resume="r1", runs_dir=tmp_path / "runs", dry_run=True), None, console) == 0
    assert reads == ["r1"]
    assert backends.on_run("status", "r1", console, tmp_path / "runs") == 0 and reads == ["r1"] * 2
    assert report(["r1"], latest=False, out=None, runs_dir=tmp_path / "runs", console=console) == 0
    assert reads == ["r1"] * 3


def test_status_and_cancel_go_to_the_backend_run_json_names(tmp_path):
    folder = local_run(tmp_path)
    meta = json.loads((folder.root / "run.json").read_text())
    (folder.root / "run.json").write_text(json.dumps({**meta, "backend": "vertex"}))
    chosen = []
    with pytest.raises(RunError, match="damaged"):  # a vertex record without a job: read by VertexBackend's schema
        backends.on_run("status", "r1", None, tmp_path / "runs",
                        choose=lambda name: chosen.append(name) or VertexBackend())
    assert chosen == ["vertex"]
    (folder.root / "run.json").write_text(json.dumps({**meta, "backend": "slurm"}))
    with pytest.raises(UserError, match="unknown backend 'slurm': the backends here are local, vertex; a backend is "
                                         "a package plus one entry in jobs.registry.BUILT_IN"):
        backends.on_run("cancel", "r1", None, tmp_path / "runs")


def test_run_json_is_typed_versioned_and_reads_records_without_a_version(tmp_path):
    folder = local_run(tmp_path)
    written = json.loads((folder.root / "run.json").read_text())
    assert written["version"] == 1 and written["seed"] == 7
    del written["version"]  # as every run.json before the field existed
    (folder.root / "run.json").write_text(json.dumps(written))
    meta = RunFolder(folder.root).meta()  # a folder keeps the record it read or wrote: read afresh
    assert meta.version == 1 and meta.of(LocalRun).seed == 7 and meta.trials == 3
    (folder.root / "run.json").write_text(json.dumps({**written, "version": 2}))
    with pytest.raises(RunError, match="version 2, newer than this tool reads"):
        RunFolder(folder.root).meta()
    (folder.root / "run.json").write_text(json.dumps({**written, "trials": "many"}))
    with pytest.raises(RunError, match="damaged .trials: Input should be a valid integer"):
        RunFolder(folder.root).meta()


def test_the_reference_trainer_declares_what_the_platform_expects():
    from trainer import config

    assert ACCELERATOR_ENV == config.ACCELERATOR_ENV  # the trial environment's variable, named on both sides
    assert reported_metrics(["python", "-m", "trainer", "--x=1"]) == config.REPORTED_METRICS
    assert reported_metrics(["python", "-m", "my_trainer"]) is None and reported_metrics(["./train.sh"]) is None
    assert unreported_metric(["python", "-m", "trainer"], config.LOSS) is None
    assert "reports only" in unreported_metric(["python", "-m", "trainer"], "f1")
    assert unreported_metric(["python", "-m", "my_trainer"], "f1") is None  # declares nothing: not checked


def test_the_local_backend_refuses_a_spec_it_cannot_read_in_one_line(tmp_path):
    with pytest.raises(UserError, match="no-such.yaml"):
        tune_local(str(tmp_path / "no-such.yaml"), runs_dir=tmp_path / "runs")
