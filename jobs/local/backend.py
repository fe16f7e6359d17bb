"""The local backend's commands: plan, run or resume a sweep on this machine, show it, stop it, list its
trials. A run's state is its folder (jobs/run/folder.py) and the Optuna study in it (jobs/local/loop.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import functools
import importlib.machinery
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from jobs.backends import TuneRequest
from jobs.cloud import storage
from jobs.data.defaults import DEFAULT_DATA, DEFAULT_SPEC
from jobs.local.process import Launcher
from jobs.run.budget import with_budget
from jobs.run.folder import RunFolder, RunLock, RunMeta, check_run_id, new_run_id
from jobs.run.outcome import Best, Ending, Line, Notes, Outcome, PlanTable, TrialsTable, warning
from jobs.spec import Spec, SpecError, load_runnable_spec, load_spec
from jobs.trial.command import is_reference_trainer, module_of
from jobs.trial.record import BOOKKEEPING, TrialRecord, TrialState, best_trial, trial_order


@dataclasses.dataclass(frozen=True)
class LocalOptions:
    """The flags of ``invoke tune`` only the local backend takes."""

    seed: int | None = None  # the search algorithm's seed


class LocalRun(RunMeta):
    """run.json of a local run: what a resume needs beyond the common record."""

    seed: int | None = None
    trial_timeout: float | None = None


def _missing_inputs(spec: Spec, data_root: str) -> list[tuple[str, str]]:
    """Trainer args made from ``{data}`` that name a local file or folder that is not there: every trial would
    fail on them, so the sweep says so before it starts one."""
    if storage.is_gcs(data_root):
        return []
    missing = []
    for i, (template, arg) in enumerate(zip(spec.trainer.args, spec.trainer_args(data_root))):
        path = arg.split("=", 1)[-1]
        if "{data}" in template and not os.path.exists(path):
            missing.append((f"trainer.args[{i}]", f"{template} is {path}, which does not exist; prepare the data "
                            f"(invoke data --out {data_root}) or point --data-root at it"))
    return missing


def _unimportable(spec: Spec, spec_file: str) -> list[tuple[str, str]]:
    """A ``python -m MODULE`` command whose top-level package this interpreter cannot find (from the working
    folder, as ``-m`` looks first): every trial would fail with ModuleNotFoundError. Found, not imported."""
    module = module_of(spec.trainer.command)
    if module is None:
        return []
    top = module.split(".", 1)[0]
    # find_spec sees what this environment installed (editable finders included), PathFinder the working folder
    if importlib.util.find_spec(top) or importlib.machinery.PathFinder.find_spec(top, [os.getcwd()]):
        return []
    where = (f"pip install -e {(Path(spec_file).parent / spec.trainer.package).resolve()} (trainer.package)"
             if spec.trainer.package else "install its package into this environment")
    return [("trainer.command", f"runs python -m {module}, but {sys.executable} cannot import {top} from here: "
                                f"{where}, or run from the folder that holds it")]


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `invoke cancel`): the sweep stops the way Ctrl-C stops it."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _stopped_by_signals(run: Callable[..., Outcome]) -> Callable[..., Outcome]:
    """SIGTERM raises Terminated while ``run`` runs; Ctrl-C or SIGTERM before the sweep has a run folder ends
    with one line (130 or 143) instead of a traceback."""

    @functools.wraps(run)
    def wrapper(self, request: TuneRequest, notes: Notes) -> Outcome:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            return run(self, request, notes)
        except KeyboardInterrupt as exc:
            return Outcome(["interrupted before the sweep started; nothing ran"], _ending(exc))
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


def _ending(interrupt: KeyboardInterrupt) -> Ending:
    return Ending.TERMINATED if isinstance(interrupt, Terminated) else Ending.INTERRUPTED


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """What a run needs, from the spec and flags (new) or from its folder (resumed)."""

    spec: Spec
    spec_file: str  # where the spec was read from, for messages
    data_root: str
    seed: int | None
    trial_timeout: float | None
    folder: RunFolder | None  # None until a new run is created


def _prepared(request: TuneRequest) -> _Inputs:
    seed = request.options_for(LocalOptions).seed
    if request.resume:
        folder = request.run or RunFolder.open(request.resume, request.runs_dir)
        meta = folder.meta().of(LocalRun)
        spec = with_budget(load_spec(folder.spec_path), meta.trials, meta.parallel)
        return _Inputs(spec, str(folder.spec_path), meta.data_root, meta.seed, meta.trial_timeout, folder)
    if request.run_id:
        check_run_id(request.run_id)  # before anything is prepared or started
    spec_file = request.spec or str(DEFAULT_SPEC)
    spec = with_budget(load_runnable_spec(spec_file), request.trials, request.parallel, request.smoke)
    LocalBackend.check(spec, spec_file)
    return _Inputs(spec, spec_file, request.data_root or DEFAULT_DATA, seed, request.trial_timeout, None)


class LocalBackend:
    """Trials as processes on this machine, searched by Optuna; ``warm`` starts the reference trainer's trials
    from a fork server that has its imports done."""

    name: ClassVar[str] = "local"
    options: ClassVar[type] = LocalOptions
    resumable: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, warm: bool = True):
        self.warm = warm

    @staticmethod
    def check(spec: Spec, source: str) -> None:
        """A local sweep takes every valid spec: sections of other backends are theirs, and it has none."""
        if spec.section(LocalBackend.name):
            raise SpecError(source, [(LocalBackend.name, "the local backend takes no settings in the spec; remove "
                                                         "the section (its flags: invoke --help tune)")])

    def plan(self, request: TuneRequest, notes: Notes) -> Outcome:
        sweep = _prepared(request)
        spec = sweep.spec
        limit = spec.trials.failure_limit
        stop = "if the first trial fails" if limit is None else f"after {limit} failed"
        example = {pid: "<value>" for pid in spec.active({})}
        return Outcome([*map(warning, spec.advisories()), PlanTable(spec),
                        f"trials: max {spec.trials.max}, parallel {spec.trials.parallel}, stop {stop}",
                        "each trial runs: " + " ".join(spec.trial_argv(sweep.data_root, example))])

    @_stopped_by_signals
    def sweep(self, request: TuneRequest, notes: Notes) -> Outcome:
        """Ctrl-C ends it with 130 and SIGTERM with 143, running trials stopped and marked INTERRUPTED, and a
        line saying how to resume."""
        from jobs.data.defaults import ensure_default_data

        sweep = _prepared(request)
        spec = sweep.spec
        for advice in spec.advisories():
            notes.print(warning(advice))
        ensure_default_data(sweep.data_root, notes)
        if missing := _unimportable(spec, sweep.spec_file) + _missing_inputs(spec, sweep.data_root):
            raise SpecError(sweep.spec_file, missing)
        launcher = Launcher(warm=self.warm)
        if is_reference_trainer(spec.trainer.command):
            launcher.prestart()  # its imports overlap ours
        folder = sweep.folder or RunFolder.create(Path(sweep.spec_file), LocalRun(
            run_id=request.run_id or new_run_id(spec.name), backend=self.name, spec=sweep.spec_file,
            data_root=sweep.data_root, trials=spec.trials.max, parallel=spec.trials.parallel, seed=sweep.seed,
            trial_timeout=sweep.trial_timeout, created=dt.datetime.now().isoformat(timespec="seconds")),
            request.runs_dir)
        return _run(spec, folder, sweep, launcher, notes)

    def status(self, folder: RunFolder, notes: Notes) -> Outcome:
        """Works while the sweep runs; trials a killed sweep left running show as INTERRUPTED."""
        from jobs.console.progress import Progress

        meta = folder.meta()
        spec = load_spec(folder.spec_path)
        progress = Progress(spec.name, spec.metric.goal, meta.trials, meta.parallel, live=False)
        pid = RunLock.holder(folder)
        trials = _study_trials(folder, spec)
        if pid is None:  # trials a killed sweep left ACTIVE are not running; a resume runs them again
            trials = [dataclasses.replace(t, state=TrialState.INTERRUPTED, reason="the sweep stopped while it ran; "
                                          "it reruns on resume") if t.state == TrialState.ACTIVE else t for t in trials]
        progress.seed(trials)
        ended = [t.started + t.duration_s for t in trials if t.duration_s is not None and t.started]
        if trials:
            progress.started = min(t.started for t in trials if t.started)
        outcome = Outcome([TrialsTable(f"sweep {spec.name}", sorted(trials, key=lambda t: trial_order(t.trial_id)),
                                       spec.metric.goal)])
        if pid:
            return outcome.add(f"running (pid {pid}); {progress.summary()}")
        outcome.add(f"not running; {progress.summary(max(ended) if ended else None)}")
        if progress.done() < progress.max_trials:
            outcome.add(f"carry it on with: invoke tune --resume {folder.run_id}")
        return outcome

    def cancel(self, folder: RunFolder, notes: Notes, wait_s: float = 30.0) -> Outcome:
        """SIGTERM to the run's orchestrator (which a sweep started in the background from a script receives,
        where SIGINT is ignored): its trials stop, and the run can be resumed. Waits to see it stop."""
        run_id, pid = folder.run_id, RunLock.holder(folder)
        if pid is None:
            return Outcome([f"run {run_id} is not running; resume it with: invoke tune --resume {run_id}"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while RunLock.holder(folder) == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        if RunLock.holder(folder) == pid:
            return Outcome([f"run {run_id} (pid {pid}) did not stop within {wait_s:g} s; stop it with: kill -9 {pid}, "
                            f"then resume it with: invoke tune --resume {run_id}"], Ending.FAILED)
        return Outcome([f"stopped run {run_id} (pid {pid}); resume it with: invoke tune --resume {run_id}"])

    def records(self, folder: RunFolder, spec: Spec, notes: Notes) -> list[TrialRecord]:
        """Every trial of the run (a running sweep's unfinished ones as ACTIVE), in id order."""
        return sorted((r for r in _study_trials(folder, spec) if r.state not in BOOKKEEPING),
                      key=lambda r: trial_order(r.trial_id))


def _study_trials(folder: RunFolder, spec: Spec) -> list[TrialRecord]:
    """Every trial the run's study holds, bookkeeping ones included; none before the sweep has created it."""
    if not folder.journal.exists():
        return []
    from jobs.local.loop import load_run_study, study_records

    try:
        return study_records(load_run_study(folder, spec.name))
    except KeyError:  # the sweep has not created its study yet
        return []


def _run(spec: Spec, folder: RunFolder, sweep: _Inputs, launcher: Launcher, notes: Notes) -> Outcome:
    """Run the sweep in its folder under the run's lock, with live progress; name the best trial."""
    from jobs.local import journal
    from jobs.local.loop import SweepLoop, study_records

    notes.print(f"run {folder.run_id} in {folder.root}/")
    with RunLock(folder):
        if aside := journal.repair(folder.journal):
            notes.print(warning(f"{folder.journal} held damaged lines (a write torn by a full disk or a crash, or a "
                                f"line that is no Optuna record); they are kept in {aside.name}, every whole record "
                                "is used"))
        loop = SweepLoop(spec, folder, sweep.data_root, seed=sweep.seed, trial_timeout=sweep.trial_timeout,
                         launcher=launcher)
        progress = notes.progress(spec.name, spec.metric.goal, loop.max_trials, loop.parallel)
        progress.seed(study_records(loop.study))
        loop.on_event = progress
        try:
            with progress:
                trials_seen = loop.run()
        except KeyboardInterrupt as exc:
            how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            return Outcome([f"{how}: running trials stopped. Resume with: invoke tune --resume {folder.run_id}"],
                           _ending(exc))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            return Outcome([Line(f" ({exc.filename or folder.root}): the sweep stopped; every trial recorded before "
                                 f"stays. Free some space, then resume with: invoke tune --resume {folder.run_id}",
                                 "the disk is full", "red")], Ending.FAILED)
    outcome = Outcome([] if progress.live_mode else [progress.summary()])  # the live table ends with the same line
    if loop.refused:
        outcome.ending = Ending.FAILED
        return outcome.add(Line(f" the first trial's trainer refused its command line ({loop.refused}); every trial "
                                "would fail the same way. Check trainer.args and the parameter ids in the spec; the "
                                f"whole log: {folder.log('1')}", "sweep stopped:", "red"))
    if loop.stopped_for_failures:
        limit = spec.trials.failure_limit
        outcome.add(Line(" the first trial failed (with trials.max_failed unset a failing first trial stops the "
                         "sweep, as on Vertex AI): see its log, or set trials.max_failed to allow failures"
                         if limit is None else f" {limit} trials failed (trials.max_failed)", "sweep stopped:", "red"))
        outcome.ending = Ending.FAILED
    if best_trial(trials_seen, spec.metric.goal) is None:
        outcome.ending = Ending.FAILED
        return outcome.add(Line(f"; see the logs under {folder.trials}", "no trial succeeded", "red"))
    return outcome.add(Best(trials_seen, spec.metric.id, spec.metric.goal))
