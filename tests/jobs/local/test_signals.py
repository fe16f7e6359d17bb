"""Stopping a local sweep as users and schedulers do, with real processes: Ctrl-C in a terminal (SIGINT to
the whole process group, fork server and all), SIGTERM, and `invoke cancel` on a sweep a script started
in the background. Each ends the same way: exit 130 or 143, running trials INTERRUPTED, one line saying
how to resume, no traceback, no process left; and the run resumes to its end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from jobs.local.loop import load_run_study, study_records
from jobs.run.folder import RunFolder
from tests.support.helpers import INVOKE, invoke, make_split
from tests.support.sweeps import in_a_terminal

pytestmark = pytest.mark.slow


def reference_spec(tmp_path: Path) -> Path:
    """The reference trainer (forked from the warm server), slow enough to be caught mid-trial."""
    make_split(tmp_path / "data", rows=200)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "long", "metric": {"id": "validation_loss", "goal": "minimize"},
        "parameters": {"learning_rate": {"type": "double", "min": 1e-5, "max": 1e-4, "scale": "log"}},
        "algorithm": "random", "trials": {"max": 3, "parallel": 2},
        "trainer": {"args": ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=4000",
                             "--patience=4000", "--batch_size=8", "--log_every=0"]}}))
    return spec


def processes_in(folder: Path) -> list[int]:
    """Processes (other than this one) whose working directory is ``folder``: the sweep, its fork server,
    its trials and anything they started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def running_trials(tmp_path: Path) -> int:
    journal = tmp_path / "runs" / "r" / "study.journal"
    if not journal.exists():
        return 0
    try:
        study = load_run_study(RunFolder(tmp_path / "runs" / "r"), "long")
        return sum(t.state == "ACTIVE" for t in study_records(study))
    except Exception:  # not created yet
        return 0


def check_stopped(tmp_path: Path, output: str, code: int, expected: int) -> None:
    assert code == expected, output
    assert "Traceback" not in output and "RuntimeError" not in output, output
    assert "running trials stopped. Resume with: invoke tune --resume r" in output
    wait_for(lambda: processes_in(tmp_path) == [], timeout=10)
    states = [t.state for t in study_records(load_run_study(RunFolder(tmp_path / "runs" / "r"), "long"))]
    assert states.count("INTERRUPTED") == 2, states


def resume_to_the_end(tmp_path: Path) -> None:
    spec = tmp_path / "runs" / "r" / "spec.yaml"
    spec.write_text(spec.read_text().replace("--epochs=4000", "--epochs=3"))
    done = invoke("tune", "--resume", "r", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    states = [t.state for t in study_records(load_run_study(RunFolder(tmp_path / "runs" / "r"), "long"))]
    assert states.count("SUCCEEDED") == 3 and states.count("RESTARTED") == 2, states


@pytest.mark.parametrize("how, expected", [("ctrl-c", 130), ("sigterm", 143)])
def test_ctrl_c_and_sigterm_stop_a_warm_sweep_cleanly(tmp_path, how, expected):
    reference_spec(tmp_path)
    sweep = subprocess.Popen([*INVOKE, "tune", "--spec", "spec.yaml", "--data-root", "data", "--run-id", "r"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, preexec_fn=in_a_terminal)
    wait_for(lambda: running_trials(tmp_path) == 2)
    if how == "ctrl-c":
        os.killpg(sweep.pid, signal.SIGINT)  # what a terminal sends: every process in the foreground group
    else:
        sweep.send_signal(signal.SIGTERM)  # what a scheduler sends: the sweep's own process
    output = sweep.communicate(timeout=60)[0]
    check_stopped(tmp_path, output, sweep.returncode, expected)
    resume_to_the_end(tmp_path)


def test_cancel_stops_a_sweep_a_script_started_in_the_background(tmp_path):
    """A non-interactive shell starts `cmd &` with SIGINT ignored, so cancel must not rely on SIGINT."""
    reference_spec(tmp_path)
    script = subprocess.Popen(["bash", "-c", " ".join([*INVOKE, "tune", "--spec", "spec.yaml", "--data-root", "data",
                                                       "--run-id", "r", "> sweep.log 2>&1 & wait"])],
                              cwd=tmp_path, start_new_session=True)
    wait_for(lambda: running_trials(tmp_path) == 2)
    cancel = invoke("cancel", "r", cwd=tmp_path, timeout=60)
    assert cancel.returncode == 0, cancel.stdout + cancel.stderr
    assert "stopped run r" in cancel.stdout and "resume it with: invoke tune --resume r" in cancel.stdout
    script.wait(timeout=60)
    check_stopped(tmp_path, (tmp_path / "sweep.log").read_text(), 143, 143)
    resume_to_the_end(tmp_path)


def test_kill_9_of_a_warm_sweep_leaves_no_process_and_it_resumes(tmp_path):
    reference_spec(tmp_path)
    sweep = subprocess.Popen([*INVOKE, "tune", "--spec", "spec.yaml", "--data-root", "data", "--run-id", "r"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: running_trials(tmp_path) == 2)
    sweep.kill()
    sweep.wait()
    wait_for(lambda: processes_in(tmp_path) == [], timeout=10)  # the fork server ended its trials' groups
    resume_to_the_end(tmp_path)
