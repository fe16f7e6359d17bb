"""The local sweep: Optuna asks, trial processes run, their reports come back, Optuna is told.

One loop in the main thread drives up to ``parallel`` trial processes and wakes when one ends or
when it is time to read their reports. Every trial is written to the run's Optuna journal as it starts
and as it ends, so a killed orchestrator loses nothing: a resumed run gives the trials that were
left running a rerun and carries on to ``max``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._storage import JournalOperation  # private; tests/jobs/local/test_optuna_names.py
from optuna.trial import TrialState as OptunaState

from jobs.local import journal, search
from jobs.local.process import Launcher, TrialProcess
from jobs.run.budget import planned_trials
from jobs.run.folder import RunFolder
from jobs.spec import Spec
from jobs.trial.environment import STOP_GRACE_S, UNRECOGNIZED, trial_environment
from jobs.trial.record import DONE, FAILURES, S, TrialRecord, TrialState
from jobs.trial.reports import FileTail, Reports, log_tail, read_whole

OBSERVE_SECONDS = 0.1  # how often running trials' reports are read
RECORD = "record"  # the user attribute holding a trial's TrialRecord
FIRST_FAILED = "first_trial_failed"  # the study attribute set when the first trial to end failed
SUGGEST_SECONDS = "suggest_seconds"  # the user attribute holding the orchestrator's time to choose a trial's values
DRAWS = 10  # draws for a trial's values before one the same as a running trial's is kept


@dataclass
class _Active:
    trial: optuna.Trial
    view: TrialRecord
    process: TrialProcess
    reports: Reports
    log: FileTail
    log_path: Path
    metric_file: Path
    started: float
    reported: set[int] = field(default_factory=set)
    stop: TrialState | None = None  # STOPPED or FAILED when the orchestrator ends it
    kill_at: float | None = None  # when a trial sent SIGTERM is killed if still running


EventHandler = Callable[[str, TrialRecord], None]


def run_storage(folder: RunFolder) -> optuna.storages.BaseStorage:
    """Optuna's journal storage in the run folder: each change is a line appended to ``study.journal`` (so a
    killed orchestrator loses nothing), fsynced as a trial starts and as it ends (``_Journal``). Here it costs
    5 ms of orchestrator time a trial against 22 ms for SQLite through SQLAlchemy (bench/sweep.py: overhead
    1.14 against 1.34). ``optuna-dashboard runs/<run id>/study.journal`` shows the study."""
    lock = _KernelLock(folder.root / ".journal.lock")
    return optuna.storages.JournalStorage(_Journal(str(folder.journal), lock))


class _Journal(JournalFileBackend):
    """Optuna's journal file, fsynced when a trial's record or its end is written (and with them every line
    before) rather than after each line: a trial is 13 lines (its values one by one, attributes, state), and an
    fsync took 2-3 ms on this project's 2-core machine, 30 ms of a trial's orchestrator time. A line written is in
    the kernel's cache at once, which a killed orchestrator does not take with it; a power cut may lose the
    lines of a trial that was starting, which no resume counted yet."""

    def __init__(self, path: str, lock: _KernelLock):
        super().__init__(path, lock_obj=lock)
        self.path, self.lock = path, lock  # our own: Optuna keeps its copies in private attributes

    def append_logs(self, logs: list[dict]) -> None:
        if any(_lasting(log) for log in logs):
            return super().append_logs(logs)
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)  # as Optuna writes them
        with self.lock, open(self.path, "ab") as f:
            f.write(text.encode())


def _lasting(log: dict) -> bool:
    """A trial's record (as it starts and ends) or its final state: the lines worth an fsync."""
    op = log.get("op_code")
    return op == JournalOperation.SET_TRIAL_STATE_VALUES or (
        op == JournalOperation.SET_TRIAL_USER_ATTR and RECORD in log.get("user_attr", {}))


class _KernelLock:
    """The journal's write lock as an flock, which the kernel drops when its holder dies: Optuna's
    lock files would stay behind a killed orchestrator and stall the resumed one."""

    def __init__(self, path: Path):
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> _KernelLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def load_run_study(folder: RunFolder, study_name: str) -> optuna.Study:
    """A run's study, to read (also while its sweep runs). A journal with a damaged line in the middle (torn by
    an older resume, or no record Optuna can apply) is read through a repaired copy (the run's own file is
    repaired by the next resume), and so is one that cannot be opened for writing (a read-only runs/)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name, storage=run_storage(folder))
    except Exception:  # EROFS or EACCES; JSONDecodeError, or whatever the replay trips on: AssertionError, TypeError...
        import tempfile

        good, _ = journal.split_torn(folder.journal.read_bytes())
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / folder.journal.name
            copy.write_bytes(good)
            memory = optuna.storages.InMemoryStorage()
            optuna.copy_study(from_study_name=study_name, to_study_name=study_name, to_storage=memory,
                              from_storage=optuna.storages.JournalStorage(JournalFileBackend(str(copy))))
            return optuna.load_study(study_name=study_name, storage=memory)


def open_study(spec: Spec, folder: RunFolder, seed: int | None) -> optuna.Study:
    """Create or load the run's study. A resumed study's sampler is seeded past the trials it has,
    so it does not draw the first run's points again."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=run_storage(folder), study_name=spec.name,
                                direction="maximize" if spec.metric.goal == "maximize" else "minimize",
                                pruner=search.pruner_for(spec), load_if_exists=True)
    study.sampler = search.sampler_for(spec, None if seed is None else seed + len(study.get_trials(deepcopy=False)))
    return study


def study_records(study: optuna.Study) -> list[TrialRecord]:
    """Every recorded trial as the orchestrator left it (one left running shows as ACTIVE)."""
    rerun = set(study.user_attrs.get("rerun", []))
    out = []
    for t in study.get_trials(deepcopy=False):
        if RECORD in t.user_attrs:
            view = TrialRecord(**t.user_attrs[RECORD])
            view.step = t.last_step if view.step is None else view.step
            view.state = S.RESTARTED if t.number in rerun else view.state
            out.append(view)
    return out


class SweepLoop:
    """Runs (or resumes) the sweep of ``spec`` in ``folder``."""

    def __init__(self, spec: Spec, folder: RunFolder, data_root: str, seed: int | None = None,
                 trial_timeout: float | None = None, launcher: Launcher | None = None,
                 on_event: EventHandler | None = None):
        self.spec = spec
        self.folder = folder
        self.data_root = data_root
        self.seed = seed
        self.trial_timeout = trial_timeout
        self.max_trials = planned_trials(spec)
        self.parallel = min(spec.trials.parallel, self.max_trials)
        self.failure_limit = spec.trials.failure_limit
        self.launcher = launcher or Launcher()
        self.on_event = on_event or (lambda kind, view: None)
        self.study = open_study(spec, folder, seed)
        self.pruning = spec.early_stopping != "none"
        self.active: dict[int, _Active] = {}
        self.done = 0
        self.failed = 0
        self.stopped_for_failures = False
        self.first_failed = False  # the first trial to end failed: with max_failed unset, the sweep stops
        self.launching: optuna.Trial | None = None  # asked of Optuna, its process not yet running
        self.refused: str | None = None  # the trainer's own words when it refused the command line it was given
        self._prepare()  # before anyone reads study_records(): trials left running by a stopped sweep show as RESTARTED

    def _prepare(self) -> None:
        """Count what is done, enqueue the grid once, and give trials left running a rerun."""
        if self.spec.algorithm == "grid" and not self.study.user_attrs.get("grid_enqueued"):
            for point in search.grid_points(self.spec, self.seed)[: self.max_trials]:
                self.study.enqueue_trial(point, skip_if_exists=False)
            self.study.set_user_attr("grid_enqueued", True)
        rerun = list(self.study.user_attrs.get("rerun", []))
        self.next_id = 1  # trial ids go on from the highest recorded one
        for t in self.study.get_trials(deepcopy=False):
            if RECORD in t.user_attrs:
                self.next_id = max(self.next_id, int(t.user_attrs[RECORD]["trial_id"]) + 1)
            state = t.user_attrs.get(RECORD, {}).get("state")
            if t.state == OptunaState.RUNNING or state == S.INTERRUPTED:
                if t.number in rerun:
                    continue
                if t.state == OptunaState.RUNNING:
                    self.study.tell(t.number, state=OptunaState.FAIL)
                self.study.enqueue_trial(t.params, skip_if_exists=False)
                rerun.append(t.number)
            elif t.number not in rerun and state in DONE:
                self.done += 1
                self.failed += state in FAILURES
        self.study.set_user_attr("rerun", rerun)
        self.first_failed = bool(self.study.user_attrs.get(FIRST_FAILED))
        self.waiting = sum(t.state == OptunaState.WAITING for t in self.study.get_trials(deepcopy=False))

    def _ask(self) -> tuple[optuna.Trial, dict[str, object]]:
        """A trial and its values, not those of a trial still running: a draw that repeats one is told FAIL
        (no sampler learns from a failed trial; it gets no record, so no trial id) and drawn again at random
        (a model sure of its point would repeat it), up to DRAWS times (a small space may have fewer points
        than trials at once). Grid points are all distinct."""
        running = [run.view.parameters for run in self.active.values()]
        trial, assignment = self._draw()
        sampler = self.study.sampler
        try:
            for _ in range(DRAWS - 1):
                if assignment not in running or self.spec.algorithm == "grid":
                    break
                self.launching = None
                self.study.tell(trial, state=OptunaState.FAIL)
                seed = None if self.seed is None else self.seed + trial.number
                self.study.sampler = optuna.samplers.RandomSampler(seed)
                trial, assignment = self._draw()
        finally:
            self.study.sampler = sampler
        return trial, assignment

    def _draw(self) -> tuple[optuna.Trial, dict[str, object]]:
        trial = self.launching = self.study.ask()  # until it runs: a Ctrl-C meanwhile still marks it INTERRUPTED
        return trial, search.suggest(trial, self.spec)

    def _launch(self) -> None:
        asked = time.perf_counter()
        trial, assignment = self._ask()
        trial.set_user_attr(SUGGEST_SECONDS, round(time.perf_counter() - asked, 4))
        self.waiting = max(0, self.waiting - 1)
        trial_id, self.next_id = str(self.next_id), self.next_id + 1
        base = self.folder.artifacts.resolve()
        env = trial_environment(str(base), trial_id, str(self.folder.metric_file(trial_id).resolve()), self.parallel)
        view = TrialRecord(trial_id, parameters=assignment, started=time.time(), artifact_dir=str(base / trial_id))
        trial.set_user_attr(RECORD, asdict(view))
        argv = self.spec.trial_argv(self.data_root, assignment)
        self.folder.trial_dir(trial_id)  # its folder, made before the log is written
        log_path = self.folder.log(trial_id)
        log_path.write_text("$ " + shlex.join(argv) + "\n")
        try:
            process = self.launcher.start(argv, env, log_path)
        except OSError as exc:
            view.state, view.reason, view.duration_s = S.FAILED, f"cannot start {argv[0]}: {exc}", 0.0
            self.launching = None
            self._finish(trial, view, None)
            return
        view.started = time.time()  # once it runs: the first start may wait for the fork server's imports
        self.active[trial.number] = _Active(trial, view, process, Reports(self.spec.metric.id), FileTail(log_path),
                                            log_path, self.folder.metric_file(trial_id), time.monotonic())
        self.launching = None
        self.on_event("started", view)

    def _observe(self, run: _Active, running: bool = True) -> None:
        """Read a trial's new reports; while it runs, ask the pruner whether to stop it."""
        run.reports.merge_hypertune(read_whole(run.metric_file))
        run.reports.merge_printed(run.log.read_new())
        series = run.reports.series()
        if not series:
            return
        run.view.step = series[-1][0]
        run.view.objective = run.reports.measure(self.spec.measurement, self.spec.metric.goal)
        if not (self.pruning and running) or run.stop is not None:
            return
        for step, value in series:
            if step not in run.reported:
                run.trial.report(value, step)
                run.reported.add(step)
        if run.trial.should_prune():
            self._stop(run, S.STOPPED, f"early stopping ({self.spec.early_stopping}) at step {run.view.step}")

    def _check_timeout(self, run: _Active) -> None:
        if run.stop is None and self.trial_timeout and time.monotonic() - run.started > self.trial_timeout:
            self._stop(run, S.FAILED, f"timed out after {self.trial_timeout:g} s")
        elif run.kill_at is not None and time.monotonic() > run.kill_at:
            run.process.kill()

    def _stop(self, run: _Active, state: TrialState, reason: str) -> None:
        """SIGTERM the trial, so that it can save its work, and SIGKILL it STOP_GRACE_S later if still running;
        a trial that has ended meanwhile is concluded from its reports instead."""
        if run.process.poll() is not None:
            return
        run.stop, run.view.reason = state, reason
        run.process.terminate()
        run.kill_at = time.monotonic() + STOP_GRACE_S

    def _conclude(self, number: int, code: int) -> None:
        run = self.active.pop(number)
        run.process.close()
        self._observe(run, running=False)
        view = run.view
        view.duration_s = round(time.monotonic() - run.started, 3)
        view.objective = run.reports.measure(self.spec.measurement, self.spec.metric.goal)
        if run.stop:
            view.state = run.stop
        elif code != 0:
            said = next((line.strip() for line in reversed(log_tail(run.log_path).splitlines()) if line.strip()), "")
            view.state, view.reason = S.FAILED, f"exit code {code}" + (f": {said[:300]}" if said else "")
        elif view.objective is None:
            view.state, view.reason = S.INFEASIBLE, f"reported no {self.spec.metric.id}"
        else:
            view.state = S.SUCCEEDED
        if view.state in FAILURES:
            view.log_tail = log_tail(run.log_path)
            if code == 2 and UNRECOGNIZED in view.log_tail and not self.done:
                self.refused = view.reason  # every trial would fail the same way: stop before launching more
        self._finish(run.trial, view, view.objective)

    def _finish(self, trial: optuna.Trial, view: TrialRecord, value: float | None) -> None:
        trial.set_user_attr(RECORD, asdict(view))
        state = {S.SUCCEEDED: OptunaState.COMPLETE, S.STOPPED: OptunaState.PRUNED}.get(view.state, OptunaState.FAIL)
        self.study.tell(trial, value if state == OptunaState.COMPLETE else None, state=state)
        if not self.done and view.state in FAILURES:
            self.first_failed = True
            self.study.set_user_attr(FIRST_FAILED, True)
        self.done += 1
        self.failed += view.state in FAILURES
        self.on_event("finished", view)

    def _interrupt(self) -> None:
        """Ctrl-C: kill every running trial, and mark it (and one whose process was being started) INTERRUPTED
        for a rerun on resume."""
        stopped = [(run.trial, run.view) for run in self.active.values()]
        for run in self.active.values():
            run.process.kill()
            run.process.close()
        if self.launching is not None and self.launching.number not in self.active:
            # Read back from the study, not the trial's own copy: the signal may land between the journal's write of
            # the record and that copy's update (seen under load), leaving the record ACTIVE in the journal.
            number = self.launching.number
            stored = next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)
            record = stored.user_attrs.get(RECORD)  # None: stopped before it was recorded
            stopped.append((self.launching, TrialRecord(**record) if record else None))
        self.active.clear()
        for trial, view in stopped:
            if view is not None:
                view.state, view.reason = S.INTERRUPTED, "sweep interrupted"
                trial.set_user_attr(RECORD, asdict(view))
            self.study.tell(trial, state=OptunaState.FAIL)
            if view is not None:
                self.on_event("finished", view)

    def _can_launch(self) -> bool:
        if self.refused:
            return False
        limit = self.failure_limit
        if self.first_failed if limit is None else self.failed >= limit:
            self.stopped_for_failures = True
            return False
        if self.spec.algorithm == "grid" and not self.waiting:
            return False
        return len(self.active) < self.parallel and self.done + len(self.active) < self.max_trials

    def run(self) -> list[TrialRecord]:
        """Run trials until ``max`` are done (or too many failed); returns every trial."""
        try:
            while True:
                while self._can_launch():
                    self._launch()
                if not self.active:
                    break
                # Wakes when a trial ends (or the fork server has news), else to read reports.
                wait({run.process.sentinel for run in self.active.values()}, timeout=OBSERVE_SECONDS)
                for number, run in list(self.active.items()):
                    code = run.process.poll()
                    if code is None:
                        self._observe(run)
                        self._check_timeout(run)
                    else:
                        self._conclude(number, code)
        except KeyboardInterrupt:
            self._interrupt()
            raise
        except OSError:  # a full disk, say: the journal cannot take more, so only the processes are stopped
            for run in self.active.values():
                run.process.kill()
            raise
        finally:
            self.launcher.close()
        return study_records(self.study)

