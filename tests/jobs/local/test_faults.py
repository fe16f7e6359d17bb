"""Faults a sweep meets outside the code, as real processes: a torn journal, a full disk.

The disk is a real tmpfs of a few hundred KB (needs root, as CI has; skipped otherwise); trials are real
subprocesses of tests/support/toy_trainer.py and the orchestrator is `invoke tune` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pandas as pd
import pytest
import yaml

from jobs.local.journal import split_torn
from jobs.local.loop import RECORD, load_run_study, run_storage, study_records
from jobs.run.folder import RunFolder
from tests.support.helpers import REPO, invoke

TOY = str(REPO / "tests" / "support" / "toy_trainer.py")


def write_spec(path, trials: int, mode: str = "good") -> None:
    path.write_text(yaml.safe_dump({
        "name": "toy", "metric": {"id": "loss", "goal": "minimize"},
        "parameters": {"x": {"type": "double", "min": -3.0, "max": 3.0}}, "algorithm": "random",
        "trials": {"max": trials, "parallel": 1}, "trainer": {"command": [sys.executable, TOY],
                                                               "args": ["--steps=2", f"--mode={mode}"]}}))


def trials_of(root, run_id: str = "r") -> list:
    return study_records(load_run_study(RunFolder.open(run_id, root / "runs"), "toy"))


def records(*trial_ids: int) -> list[bytes]:
    """Whole journal records, as Optuna writes them (a trial's user attribute set)."""
    return [json.dumps({"op_code": 8, "worker_id": "w", "trial_id": i, "user_attr": {"k": i}}).encode()
            for i in trial_ids]


def test_split_torn_keeps_every_whole_record():
    a, b, c = records(0, 1, 2)
    assert split_torn(a + b"\n" + b + b"\n") == (a + b"\n" + b + b"\n", b"")
    assert split_torn(a + b"\n" + b[:7]) == (a + b"\n", b[:7])  # torn tail
    assert split_torn(a + b"\n" + b[:7] + c + b"\n") == (a + b"\n" + c + b"\n", b[:7])  # a record glued on


def test_the_journal_is_fsynced_as_a_trial_starts_and_ends_and_written_at_every_line(tmp_path, monkeypatch):
    """Every line reaches the file at once (what a killed orchestrator leaves: the tests below); an fsync (2-3 ms
    on this project's machine) comes with a trial's record, as it starts and as it ends, and takes every line
    written before it to the disk."""
    import optuna

    folder = RunFolder(tmp_path)
    synced: list[int] = []  # the journal's size at each fsync
    fsync = os.fsync

    def watched(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", watched)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=run_storage(folder), study_name="toy")
    trial = study.ask()
    for name in "abcdefg":
        trial.suggest_float(name, 0, 1)
    trial.set_user_attr("suggest_seconds", 0.1)
    written = folder.journal.stat().st_size
    assert synced == [] and len(folder.journal.read_bytes().splitlines()) == 10
    trial.set_user_attr(RECORD, {"trial_id": "1", "state": "ACTIVE"})
    assert synced == [folder.journal.stat().st_size] and synced[0] > written
    study.tell(trial, 1.0)
    assert synced[1:] == [folder.journal.stat().st_size]


def test_a_torn_journal_is_set_aside_and_the_run_stays_readable_and_resumable(tmp_path):
    write_spec(tmp_path / "spec.yaml", trials=2)
    assert invoke("tune", "--spec", "spec.yaml", "--run-id", "r", cwd=tmp_path).returncode == 0
    journal = tmp_path / "runs" / "r" / "study.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code": 5, "worker_id": "torn-by-a-full-di')  # the write a full disk cut
    assert len(trials_of(tmp_path)) == 2  # readers skip a torn tail
    meta = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    (tmp_path / "runs" / "r" / "run.json").write_text(json.dumps({**meta, "trials": 4}))  # room to carry on
    resumed = invoke("tune", "--resume", "r", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "held damaged lines" in resumed.stdout and "they are kept in study.journal.torn-" in resumed.stdout
    (aside,) = (tmp_path / "runs" / "r").glob("study.journal.torn-*")
    assert aside.read_bytes() == b'{"op_code": 5, "worker_id": "torn-by-a-full-di'
    assert [t.state for t in trials_of(tmp_path)] == ["SUCCEEDED"] * 4
    for command in (("status", "r"), ("report", "--run-id", "r")):
        done = invoke(*command, cwd=tmp_path)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_a_journal_an_older_resume_glued_onto_a_torn_line_is_read_and_repaired(tmp_path):
    write_spec(tmp_path / "spec.yaml", trials=2)
    assert invoke("tune", "--spec", "spec.yaml", "--run-id", "r", cwd=tmp_path).returncode == 0
    journal = tmp_path / "runs" / "r" / "study.journal"
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([*lines[:3], b'{"op_code": 9, "wor' + lines[3], *lines[4:]]))
    assert [t.state for t in trials_of(tmp_path)] == ["SUCCEEDED"] * 2  # through a repaired copy
    assert invoke("status", "r", cwd=tmp_path).returncode == 0
    resumed = invoke("tune", "--resume", "r", cwd=tmp_path)
    assert resumed.returncode == 0 and "they are kept in" in resumed.stdout, resumed.stderr
    assert split_torn(journal.read_bytes())[1] == b""


CATEGORICAL = json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": ["a"]}})
NOT_RECORDS = [b'{"op_code": 99}', b"[]", b"1", b'"x"', b"{}", b"null",
               b'{"op_code": 6, "worker_id": "w", "trial_id": 0}',
               b'{"op_code": 5, "worker_id": "w", "trial_id": "0", "param_name": 3}',
               b'{"op_code": 7, "worker_id": "w", "trial_id": 0, "step": true, "intermediate_value": 1.0}',
               b'{"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": "yesterday"}',
               b'{"op_code": 2, "worker_id": "w", "study_id": 0, "user_attr": {}}',
               json.dumps({"op_code": 5, "worker_id": "w", "trial_id": 0, "param_name": "c", "param_value_internal": 3,
                           "distribution": CATEGORICAL}).encode()]


@pytest.mark.parametrize("line", NOT_RECORDS)
def test_a_line_that_is_no_record_optuna_can_apply_is_set_aside(line):
    a, b = records(0, 1)
    assert split_torn(a + b"\n" + line + b"\n" + b + b"\n") == (a + b"\n" + b + b"\n", line)


def test_lines_that_are_no_records_are_set_aside_and_the_run_stays_readable_and_resumable(tmp_path):
    write_spec(tmp_path / "spec.yaml", trials=2)
    assert invoke("tune", "--spec", "spec.yaml", "--run-id", "r", cwd=tmp_path).returncode == 0
    journal = tmp_path / "runs" / "r" / "study.journal"
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([*lines[:3], *NOT_RECORDS, *lines[3:-1], b'{"op_code": 99}', b""]))
    report = invoke("report", "--run-id", "r", cwd=tmp_path)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert len(pd.read_csv(tmp_path / "runs" / "r" / "trials.csv")) == 2
    meta = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    (tmp_path / "runs" / "r" / "run.json").write_text(json.dumps({**meta, "trials": 3}))  # room to carry on
    resumed = invoke("tune", "--resume", "r", cwd=tmp_path)
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert "held damaged lines" in resumed.stdout and "they are kept in study.journal.torn-" in resumed.stdout
    (aside,) = (tmp_path / "runs" / "r").glob("study.journal.torn-*")
    assert aside.read_bytes() == b"\n".join([*NOT_RECORDS, b'{"op_code": 99}'])
    assert [t.state for t in trials_of(tmp_path)] == ["SUCCEEDED"] * 3


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", f"sweeps-{uuid.uuid4().hex[:8]}", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_ends_the_sweep_with_one_line_and_loses_nothing(small_disk):
    write_spec(small_disk / "spec.yaml", trials=30)
    assert invoke("tune", "--spec", "spec.yaml", "--run-id", "r", "--trials", "3", cwd=small_disk).returncode == 0
    (small_disk / "ballast").write_bytes(b"\0" * 200_000)
    write_spec(small_disk / "spec.yaml", trials=30, mode="spew")  # each trial's log takes 50 KB
    spew = invoke("tune", "--spec", "spec.yaml", "--run-id", "s", "--trials", "30", cwd=small_disk)
    assert spew.returncode == 1, spew.stdout + spew.stderr
    assert "Traceback" not in spew.stdout + spew.stderr
    assert "the disk is full" in spew.stdout and "resume with: invoke tune --resume s" in spew.stdout
    assert [t.state for t in trials_of(small_disk)] == ["SUCCEEDED"] * 3  # the other run is untouched
    recorded = trials_of(small_disk, "s")
    assert recorded and all(t.state in ("FAILED", "ACTIVE") for t in recorded)
    subprocess.run(["mount", "-o", "remount,size=20m", str(small_disk)], check=True)
    (small_disk / "ballast").unlink()
    write_spec(small_disk / "runs" / "s" / "spec.yaml", trials=30)  # the trainer is fixed
    resumed = invoke("tune", "--resume", "s", cwd=small_disk)
    assert resumed.returncode in (0, 1) and "Traceback" not in resumed.stderr, resumed.stderr
    finished = trials_of(small_disk, "s")
    assert len([t for t in finished if t.state in ("SUCCEEDED", "FAILED")]) == 30


def test_a_read_only_runs_folder_can_still_be_read(small_disk, tmp_path):
    write_spec(small_disk / "spec.yaml", trials=2)
    assert invoke("tune", "--spec", "spec.yaml", "--run-id", "r", cwd=small_disk).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    status = invoke("status", "r", cwd=small_disk)
    assert status.returncode == 0 and "not running; 2/2 done" in status.stdout, status.stderr
    report = invoke("report", "--run-id", "r", cwd=small_disk)
    assert report.returncode == 2 and "Traceback" not in report.stderr
    assert report.stderr.strip().splitlines() == [
        "report: cannot write runs/r/trials.csv: Read-only file system. Free some space or fix the folder's "
        "permissions, or write the report elsewhere with --out, then run the same command again"]
    elsewhere = invoke("report", "--run-id", "r", "--out", str(tmp_path / "report"), cwd=small_disk)
    assert elsewhere.returncode == 0 and (tmp_path / "report" / "trials.csv").exists(), elsewhere.stderr
    resumed = invoke("tune", "--resume", "r", cwd=small_disk)
    assert resumed.returncode == 2 and "cannot write runs/r/.lock: Read-only file system" in resumed.stderr
    assert "Traceback" not in resumed.stderr
