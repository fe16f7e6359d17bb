"""Run folders: ids that stay under runs/, records written whole, folders that are not runs left alone."""

from __future__ import annotations

import json

import pytest

from jobs.run.folder import RunError, RunFolder, RunMeta, check_run_id, write_atomically
from tests.support.helpers import invoke


@pytest.mark.parametrize("run_id", ["../../x", "/etc/x", "a/b", "x" * 101, "", ".hidden", "..", "-dash", "nl\n"])
def test_run_ids_that_name_a_path_are_refused(tmp_path, run_id):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n")
    with pytest.raises(RunError, match="must be 1-100 characters"):
        RunFolder.create(spec, local_meta(run_id), tmp_path / "runs")
    with pytest.raises(RunError, match="must be 1-100 characters"):
        RunFolder.open(run_id, tmp_path / "runs")
    assert not (tmp_path / "runs").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def local_meta(run_id: str) -> RunMeta:
    return RunMeta(run_id=run_id, backend="local", spec="spec.yaml", data_root="data", trials=1, parallel=1)


def test_a_run_id_is_any_safe_folder_name_whichever_backend_runs_it():
    """The shared rule asks no backend's own (a Vertex AI label's is the Vertex backend's check)."""
    for run_id in ("titanic-nn-20261130-101500", "a" * 100, "7_x", "Run_1.v2"):
        assert check_run_id(run_id) == run_id


def test_the_tune_task_refuses_an_escaping_run_id_and_writes_nothing_outside(tmp_path):
    (tmp_path / "work").mkdir()
    outside = tmp_path / "spec.yaml"
    outside.write_text("mine\n")
    done = invoke("tune", "--run-id", "../../spec", "--trials", "1", cwd=tmp_path / "work", timeout=120)
    assert done.returncode == 2 and "must be 1-100 characters" in done.stderr and "Traceback" not in done.stderr
    assert outside.read_text() == "mine\n"


def test_a_folder_with_a_journal_but_no_record_is_not_adopted(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n")
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "study.journal").write_text('{"op_code": 0}\n')
    with pytest.raises(RunError, match=r"holds files but no run.json.*mv .*runs/old .*runs/old.old"):
        RunFolder.create(spec, local_meta("old"), tmp_path / "runs")
    assert not (tmp_path / "runs" / "old" / "run.json").exists()


@pytest.mark.parametrize("body", ["", "{not json", "[1, 2]", '{"run_id": "r"}', "\xff\xfe"])
def test_a_damaged_record_is_one_clear_error(tmp_path, body):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_bytes(body.encode("latin-1"))
    with pytest.raises(RunError, match="run.json is damaged"):
        RunFolder.open("r", tmp_path)


def test_the_record_is_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "run.json"
    write_atomically(path, json.dumps({"backend": "local"}))
    assert json.loads(path.read_text()) == {"backend": "local"} and [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize("command", [("tune", "--resume", "g"), ("status", "g"), ("cancel", "g"),
                                     ("report", "--run-id", "g")], ids=lambda c: c[0])
def test_a_damaged_record_is_one_line_on_every_task(tmp_path, command):
    (tmp_path / "runs" / "g").mkdir(parents=True)
    (tmp_path / "runs" / "g" / "run.json").write_text("")
    done = invoke(*command, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    said = (done.stderr + done.stdout).strip().splitlines()
    assert len(said) == 1 and "runs/g/run.json is damaged" in said[0], said
