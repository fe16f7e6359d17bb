"""Real local sweeps: subprocess trials, failures, early stopping, resume after SIGKILL, Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from jobs.local import search
from jobs.local.loop import load_run_study, study_records
from jobs.run.folder import RunFolder
from jobs.spec import load_spec
from tests.support.helpers import INVOKE, REPO, invoke
from tests.support.sweeps import in_a_terminal, tune_local

TOY = str(REPO / "tests" / "support" / "toy_trainer.py")


def toy_spec(tmp_path: Path, *, parameters: dict, algorithm="random", trials=None, early_stopping="none",
             measurement="best", args=(), goal="minimize", name="toy") -> Path:
    spec = {
        "name": name,
        "metric": {"id": "loss", "goal": goal},
        "parameters": parameters,
        "algorithm": algorithm,
        "measurement": measurement,
        "early_stopping": early_stopping,
        "trials": trials or {"max": 4, "parallel": 2},
        "trainer": {"command": [sys.executable, TOY], "args": list(args)},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_sweep(tmp_path: Path, spec: Path, **kwargs) -> tuple[int, list, str]:
    console = Console(file=open(os.devnull, "w"), width=200)
    status = tune_local(str(spec), run_id="r", runs_dir=tmp_path / "runs", data_root=str(tmp_path),
                        console=console, seed=kwargs.pop("seed", 1), **kwargs)
    folder = RunFolder.open("r", tmp_path / "runs")
    study = load_run_study(folder, yaml.safe_load(spec.read_text())["name"])
    return status, study_records(study), str(folder.root)


def by_state(trials) -> dict[str, list]:
    out: dict[str, list] = {}
    for t in trials:
        out.setdefault(t.state, []).append(t)
    return out


@pytest.mark.parametrize("early_stopping", ["median", "decay_curve"])
def test_sweep_with_crash_and_early_stop(tmp_path, early_stopping):
    spec = toy_spec(tmp_path, parameters={
        "mode": {"type": "categorical", "values": ["good", "bad", "crash"]},
        "x": {"type": "discrete", "values": [0, 1, 2, 3]},
    }, algorithm="grid", early_stopping=early_stopping, trials={"max": 12, "parallel": 2, "max_failed": 6},
        args=["--step_seconds=0.01", "--steps=20"])
    status, trials, root = run_sweep(tmp_path, spec)
    states = by_state(trials)
    assert len(trials) == 12
    assert {t.parameters["mode"] for t in states["FAILED"]} == {"crash"} and len(states["FAILED"]) == 4
    assert all(t.reason == "exit code 3: Traceback: something broke" for t in states["FAILED"])
    stopped = states.get("STOPPED", [])
    assert any(t.parameters["mode"] == "bad" for t in stopped)
    if early_stopping == "median":  # below the median of the others at the same step: only the bad ones
        assert all(t.parameters["mode"] == "bad" for t in stopped)
    else:  # extrapolated past the best finished trial: bad ones, and good ones that cannot beat the best
        assert all(t.parameters["mode"] == "bad" or t.parameters["x"] != 1 for t in stopped)
    assert {t.parameters["mode"] for t in states["SUCCEEDED"]} <= {"good", "bad"}
    best = min(states["SUCCEEDED"], key=lambda t: t.objective)
    assert best.parameters == {"mode": "good", "x": 1} and best.objective == pytest.approx(4 + 10 / 20)
    assert status == 0
    assert all("something broke" in t.log_tail for t in states["FAILED"])
    bad = next(t for t in stopped if t.parameters["mode"] == "bad")
    assert bad.objective is not None and bad.objective > 100  # its value so far is kept
    assert (Path(root) / "trials" / bad.trial_id / "log.txt").exists()


def test_stops_after_max_failed(tmp_path):
    spec = toy_spec(tmp_path, parameters={"mode": {"type": "categorical", "values": ["crash"]},
                                          "x": {"type": "double", "min": 0, "max": 1}},
                    trials={"max": 10, "parallel": 1, "max_failed": 2})
    status, trials, _ = run_sweep(tmp_path, spec)
    assert status == 1
    assert [t.state for t in trials] == ["FAILED", "FAILED"]


@pytest.mark.parametrize("first", ["crash", "good"])
def test_unset_max_failed_stops_when_the_first_trial_fails_and_only_then(tmp_path, first):
    """As Vertex AI with maxFailedTrialCount 0: a failing first trial ends the sweep; later failures do not."""
    spec = toy_spec(tmp_path, parameters={"mode": {"type": "categorical", "values": ["crash", "good"]}},
                    algorithm="grid", trials={"max": 2, "parallel": 1})
    seed = next(s for s in range(100) if search.grid_points(load_spec(spec), s)[0] == {"mode": first})
    status, trials, _ = run_sweep(tmp_path, spec, seed=seed)
    if first == "crash":
        assert (status, [t.state for t in trials]) == (1, ["FAILED"])
        resumed = tune_local(str(spec), resume="r", runs_dir=tmp_path / "runs", console=Console(file=io.StringIO()))
        assert resumed == 1 and len(study_records(load_run_study(RunFolder.open("r", tmp_path / "runs"), "toy"))) == 1
    else:
        assert (status, [t.state for t in trials]) == (0, ["SUCCEEDED", "FAILED"])


def test_a_trial_past_its_timeout_gets_sigterm_to_save_its_work_and_sigkill_after_the_grace(tmp_path, monkeypatch):
    from jobs.local import loop as backend

    monkeypatch.setattr(backend, "STOP_GRACE_S", 1.0)
    spec = toy_spec(tmp_path, parameters={"mode": {"type": "categorical", "values": ["graceful", "stubborn"]}},
                    algorithm="grid", trials={"max": 2, "parallel": 2, "max_failed": 2})
    status, trials, root = run_sweep(tmp_path, spec, trial_timeout=2)
    got = {t.parameters["mode"]: t for t in trials}
    assert {m: (t.state, t.reason) for m, t in got.items()} == {
        "graceful": ("FAILED", "timed out after 2 s"), "stubborn": ("FAILED", "timed out after 2 s")}
    saved = Path(root) / "artifacts" / got["graceful"].trial_id / "model" / "stopped.txt"
    assert saved.read_text() == "saved on SIGTERM\n"  # it had its SIGTERM, and the time to save
    assert not (Path(root) / "artifacts" / got["stubborn"].trial_id / "model" / "stopped.txt").exists()
    assert status == 1  # the stubborn one, which sleeps an hour, was killed after the grace


def test_infeasible_timeout_and_printed_metrics(tmp_path):
    spec = toy_spec(tmp_path, parameters={"mode": {"type": "categorical", "values": ["silent", "hang", "print"]}},
                    algorithm="grid", trials={"max": 3, "parallel": 3, "max_failed": 3})
    status, trials, _ = run_sweep(tmp_path, spec, trial_timeout=3)
    got = {t.parameters["mode"]: t for t in trials}
    assert got["silent"].state == "INFEASIBLE" and got["silent"].reason == "reported no loss"
    assert got["hang"].state == "FAILED" and got["hang"].reason == "timed out after 3 s"
    assert got["print"].state == "SUCCEEDED" and got["print"].objective == pytest.approx(5 + 10 / 5)
    assert status == 0


@pytest.mark.parametrize("measurement, expected", [("best", 5 + 10.0), ("last", 5 + 10 / 5)])
def test_measurement_picks_best_or_last_report(tmp_path, measurement, expected):
    # The toy's values fall step by step: under maximize the best report is the first one.
    spec = toy_spec(tmp_path, parameters={"mode": {"type": "categorical", "values": ["good"]}},
                    trials={"max": 1, "parallel": 1}, measurement=measurement, goal="maximize")
    _, trials, _ = run_sweep(tmp_path, spec)
    assert trials[0].objective == pytest.approx(expected)


def test_an_adaptive_sweep_runs_the_trials_its_seeded_sampler_proposes(tmp_path):
    """The sweep asks ``sampler_for(spec, seed)`` (whose learning tests/jobs/local/test_search.py checks): replayed
    in memory with the values the trials printed, the same sampler proposes every trial the sweep ran, the 5
    random ones and the 5 its model chose. Each trial's value is the toy's f(x, y) + 10 of its own parameters."""
    import optuna

    from jobs.local.search import sampler_for, suggest
    from jobs.spec import load_spec

    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -5, "max": 5},
                                          "y": {"type": "double", "min": -5, "max": 5},
                                          "mode": {"type": "categorical", "values": ["print"]}},
                    algorithm="adaptive", trials={"max": 10, "parallel": 1}, args=["--steps=1"])
    status, trials, _ = run_sweep(tmp_path, spec, seed=3)
    assert status == 0 and [t.state for t in trials] == ["SUCCEEDED"] * 10
    for t in trials:
        assert t.objective == pytest.approx((t.parameters["x"] - 1) ** 2 + (t.parameters["y"] + 2) ** 2 + 10)
    replay = optuna.create_study(direction="minimize", sampler=sampler_for(load_spec(spec), 3))
    for t in trials:
        proposed = replay.ask()
        assert suggest(proposed, load_spec(spec)) == t.parameters, t.trial_id
        replay.tell(proposed, t.objective)


@pytest.mark.parametrize("algorithm", ["adaptive", "random"])
def test_trials_running_at_once_never_get_the_same_values(tmp_path, algorithm):
    """A 6-point space, three trials at a time: the samplers alone repeat a running trial's values (random
    draws in about 4 of 10 rounds of three); the sweep draws again instead, and numbers trials without gaps."""
    spec = toy_spec(tmp_path, parameters={"x": {"type": "discrete", "values": [0, 1, 2]},
                                          "y": {"type": "discrete", "values": [-2, -1]}},
                    algorithm=algorithm, trials={"max": 12, "parallel": 3}, args=["--steps=2", "--step_seconds=0.1"])
    status, trials, _ = run_sweep(tmp_path, spec, seed=5)
    assert status == 0 and sorted(int(t.trial_id) for t in trials) == list(range(1, 13))
    for i, a in enumerate(trials):
        for b in trials[i + 1:]:
            overlap = a.started < b.started + b.duration_s and b.started < a.started + a.duration_s
            assert not (overlap and a.parameters == b.parameters), (a, b)


def _toy_processes(marker: str, guards: bool = False) -> list[int]:
    """Processes whose command line carries ``marker``: trainers and what they started (and their guards)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                if marker.encode() in cmdline and (guards or b"jobs.local.guard" not in cmdline):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _start_tune(tmp_path: Path, spec: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*INVOKE, "tune", "--spec", str(spec), "--data-root", str(tmp_path), "--seed", "2", *extra],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=in_a_terminal)


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _succeeded(tmp_path: Path, run_id: str) -> int:
    folder = RunFolder(tmp_path / "runs" / run_id)
    if not folder.journal.exists():
        return 0
    try:
        study = load_run_study(folder, "toy")
        return sum(t.state == "SUCCEEDED" for t in study_records(study))
    except Exception:  # the orchestrator has not created it yet
        return 0


def _kill_mid_sweep(tmp_path: Path, run_id: str, trials: int, step_seconds: float, after: int) -> tuple[Path, str]:
    """Start a toy sweep, SIGKILL its orchestrator once ``after`` trials succeeded and one runs; returns the
    spec and the trials' marker."""
    marker = uuid.uuid4().hex
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": trials, "parallel": 2},
                    args=[f"--step_seconds={step_seconds}", f"--marker={marker}"])
    orchestrator = _start_tune(tmp_path, spec, "--run-id", run_id)
    _wait_for(lambda: _succeeded(tmp_path, run_id) >= after and len(_toy_processes(marker)) >= 1)
    os.kill(orchestrator.pid, signal.SIGKILL)
    orchestrator.wait()
    return spec, marker


def test_resume_after_sigkill_loses_nothing_and_runs_nothing_twice(tmp_path):
    spec, marker = _kill_mid_sweep(tmp_path, "killed", trials=10, step_seconds=0.3, after=3)
    _wait_for(lambda: not _toy_processes(marker), timeout=10)  # trials die with their orchestrator
    done_before = _succeeded(tmp_path, "killed")

    resumed = _start_tune(tmp_path, spec, "--resume", "killed")
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output
    study = load_run_study(RunFolder(tmp_path / "runs" / "killed"), "toy")
    trials = study_records(study)
    states = by_state(trials)
    assert len(states["SUCCEEDED"]) == 10
    assert done_before >= 3
    restarted = states.get("RESTARTED", [])
    assert 1 <= len(restarted) <= 2
    # Each restarted trial ran again exactly once with the same parameters; nothing else ran twice.
    xs = [t.parameters["x"] for t in states["SUCCEEDED"]]
    assert len(set(xs)) == 10
    assert {t.parameters["x"] for t in restarted} <= set(xs)
    assert "best trial:" in output
    assert "10/10 done, 0 running" in output  # the trials left running were rerun, not counted as running


def test_the_command_in_a_trial_log_can_be_pasted_into_a_shell(tmp_path):
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 1, "parallel": 1}, args=["--marker=two words; $HOME"])
    status, _, root = run_sweep(tmp_path, spec)
    first = (Path(root) / "trials" / "1" / "log.txt").read_text().splitlines()[0]
    assert status == 0 and first.startswith("$ ") and "'--marker=two words; $HOME'" in first


def test_ctrl_c_leaves_no_process_and_the_run_resumes(tmp_path):
    marker = uuid.uuid4().hex
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 4, "parallel": 2}, args=["--step_seconds=0.3", f"--marker={marker}"])
    orchestrator = _start_tune(tmp_path, spec, "--run-id", "stopped")
    _wait_for(lambda: len(_toy_processes(marker)) == 2)
    os.killpg(orchestrator.pid, signal.SIGINT)
    output = orchestrator.communicate(timeout=30)[0]
    assert orchestrator.returncode == 130, output
    assert "invoke tune --resume stopped" in output
    assert _toy_processes(marker) == []
    resumed = _start_tune(tmp_path, spec, "--resume", "stopped")
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output
    assert _succeeded(tmp_path, "stopped") == 4


def test_what_a_trial_starts_ends_with_the_trial_and_with_a_killed_sweep(tmp_path):
    """A trainer whose child ignores SIGTERM: the child is gone when its trial ends, and when the sweep is
    killed with SIGKILL mid-trial (the trial's guard ends its process group)."""
    marker = uuid.uuid4().hex
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 2, "parallel": 1}, args=["--mode=orphan", f"--marker={marker}"])
    status, trials, _ = run_sweep(tmp_path, spec)
    assert status == 0 and [t.state for t in trials] == ["SUCCEEDED"] * 2
    _wait_for(lambda: not _toy_processes(marker), timeout=10)

    marker = uuid.uuid4().hex
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 2, "parallel": 1},
                    args=["--mode=orphan", "--steps=100", "--step_seconds=0.2", f"--marker={marker}"])
    orchestrator = _start_tune(tmp_path, spec, "--run-id", "killed")
    _wait_for(lambda: len(_toy_processes(marker)) >= 2)  # the trial and the child it started
    os.kill(orchestrator.pid, signal.SIGKILL)
    orchestrator.wait()
    _wait_for(lambda: not _toy_processes(marker, guards=True), timeout=10)


def test_a_trainer_printing_without_newlines_cannot_bloat_the_journal(tmp_path):
    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 3, "parallel": 1, "max_failed": 3}, args=["--mode=spew", "--spew_bytes=3000000"])
    status, trials, root = run_sweep(tmp_path, spec)
    assert status == 1 and [t.state for t in trials] == ["FAILED"] * 3
    assert (Path(root) / "study.journal").stat().st_size < 60_000  # the tails only: 4 KB a trial
    assert all(len(t.log_tail) <= 4003 and t.log_tail.startswith("...xxx") for t in trials)
    assert (Path(root) / "trials" / "1" / "log.txt").stat().st_size > 3_000_000  # the whole log stays


def test_inputs_that_cannot_work_are_caught_before_or_at_the_first_trial(tmp_path):
    from jobs.spec import SpecError

    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    args=["--steps=2", "--marker={data}/nope.npz"])
    with pytest.raises(SpecError, match=r"trainer.args\[1\]: --marker=\{data\}/nope.npz is .*nope.npz, which does "
                                        r"not exist; prepare the data"):
        run_sweep(tmp_path, spec)
    assert not (tmp_path / "runs").exists()

    misspelled = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3},
                                                "why": {"type": "double", "min": -3, "max": 3}},
                          trials={"max": 6, "parallel": 1}, name="typo")
    console = Console(file=open(tmp_path / "out.txt", "w"), width=300)
    status = tune_local(str(misspelled), run_id="t", runs_dir=tmp_path / "runs", data_root=str(tmp_path),
                        console=console, seed=1)
    console.file.close()
    out = (tmp_path / "out.txt").read_text()
    trials = study_records(load_run_study(RunFolder.open("t", tmp_path / "runs"), "typo"))
    assert status == 1 and len(trials) == 1 and trials[0].state == "FAILED"
    assert "unrecognized arguments: --why=" in trials[0].reason
    assert "sweep stopped: the first trial's trainer refused its command line (exit code 2:" in out
    assert "trial 1 FAILED: - (exit code 2: " in out and "unrecognized arguments: --why=" in out


def test_status_lists_every_trial_and_says_a_killed_run_is_not_running(tmp_path):
    _kill_mid_sweep(tmp_path, "k", trials=30, step_seconds=0.05, after=14)
    done = invoke("status", "k", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if re.match(r"^│\s+\d+ │", line)]
    assert len(rows) == len(study_records(load_run_study(RunFolder.open("k", tmp_path / "runs"), "toy"))) >= 15
    assert "INTERRUPTED" in done.stdout and "the sweep stopped while it ran; it reruns on resume" in done.stdout
    assert "not running;" in done.stdout and ", 0 running," in done.stdout
    assert "carry it on with: invoke tune --resume k" in done.stdout
    assert all(len(line) <= 200 for line in done.stdout.splitlines())  # a pipe: not wrapped at 80 columns
    assert any(len(line) > 80 for line in done.stdout.splitlines())


def test_a_signal_between_the_journal_and_the_trial_still_marks_it_interrupted(tmp_path, monkeypatch):
    """A Ctrl-C can land after the journal took a starting trial's record and before Optuna's trial object saw
    it (seen under load: the journal's write is fsynced). The trial must still end INTERRUPTED, not ACTIVE.
    Nothing real lands a signal on that instruction, so the test raises it there."""
    import optuna

    from jobs.local.loop import RECORD

    spec = toy_spec(tmp_path, parameters={"x": {"type": "double", "min": -3, "max": 3}},
                    trials={"max": 4, "parallel": 2}, args=["--step_seconds=0.3"])
    original = optuna.trial.Trial.set_user_attr

    def journal_then_signal(self, key, value):
        if key == RECORD and value["trial_id"] == "2" and value["state"] == "ACTIVE":
            self.storage.set_trial_user_attr(self._trial_id, key, value)  # the journal has it, the trial not yet
            raise KeyboardInterrupt
        return original(self, key, value)

    monkeypatch.setattr(optuna.trial.Trial, "set_user_attr", journal_then_signal)
    status, trials, _ = run_sweep(tmp_path, spec)
    assert status == 130
    assert [(t.trial_id, t.state) for t in trials] == [("1", "INTERRUPTED"), ("2", "INTERRUPTED")]
