"""``invoke tune`` for the local backend: plan, run or resume a sweep, then name the best trial."""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import functools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobs.defaults import DEFAULT_DATA, DEFAULT_SPEC
from jobs.local.process import Launcher
from jobs.progress import user_console
from jobs.reference import is_reference_trainer
from jobs.runs import RUNS_DIR, RunFolder, RunLock, check_run_id, new_run_id
from jobs.spec import Spec, SpecError, load_runnable_spec, load_spec
from jobs.trials import best_trial



def with_budget(spec: Spec, trials: int | None, parallel: int | None, smoke: bool) -> Spec:
    """The spec with ``--trials``/``--parallel`` applied (``--smoke``: one trial)."""
    budget = spec.trials.model_dump()
    if smoke:
        budget.update(max=1, parallel=1)
    if trials is not None:
        budget["max"] = trials
    if parallel is not None:
        budget["parallel"] = parallel
    if budget["parallel"] > budget["max"]:
        budget["parallel"] = budget["max"]
    return spec.model_copy(update={"trials": type(spec.trials)(**budget)})


def ensure_default_data(data_root: str, console: Console) -> None:
    if data_root == DEFAULT_DATA and not os.path.exists(os.path.join(DEFAULT_DATA, "train_data.npz")):
        from jobs.data import DEFAULT_DATASET, prepare_to

        console.print(f"preparing the built-in dataset into {DEFAULT_DATA}/: {DEFAULT_DATASET}")
        prepare_to(DEFAULT_DATA)


def _missing_inputs(spec: Spec, data_root: str) -> list[tuple[str, str]]:
    """Trainer args made from ``{data}`` that name a local file or folder that is not there: every trial would
    fail on them, so the sweep says so before it starts one."""
    if data_root.startswith("gs://"):
        return []
    missing = []
    for i, (template, arg) in enumerate(zip(spec.trainer.args, spec.trainer_args(data_root))):
        path = arg.split("=", 1)[-1]
        if "{data}" in template and not os.path.exists(path):
            missing.append((f"trainer.args[{i}]", f"{template} is {path}, which does not exist; prepare the data "
                            f"(invoke data --out {data_root}) or point --data-root at it"))
    return missing


def plan_table(spec: Spec, data_root: str) -> Table:
    table = Table(title=f"{spec.name}: {spec.algorithm} search, {spec.metric.goal} {spec.metric.id} "
                        f"({spec.measurement} report), early stopping {spec.early_stopping}", title_justify="left")
    for column in ("parameter", "type", "range or values", "scale", "when"):
        table.add_column(column)
    for pid, p in spec.parameters.items():
        span = f"{p.min:g} .. {p.max:g}" if p.type in ("double", "integer") else ", ".join(map(str, p.values))
        when = ", ".join(f"{k} in {v}" for k, v in (p.when or {}).items())
        table.add_row(pid, p.type, span, getattr(p, "scale", ""), when)
    return table


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `invoke cancel`): the sweep stops the way Ctrl-C stops it."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _stopped_by_signals(run: Callable[..., int]) -> Callable[..., int]:
    """SIGTERM raises Terminated while ``run`` runs; Ctrl-C or SIGTERM before the sweep has a run folder ends
    with one line (130 or 143) instead of a traceback."""

    @functools.wraps(run)
    def wrapper(*args, **kwargs) -> int:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            return run(*args, **kwargs)
        except KeyboardInterrupt as exc:
            (kwargs.get("console") or user_console()).print("interrupted before the sweep started; nothing ran")
            return 143 if isinstance(exc, Terminated) else 130
        finally:
            signal.signal(signal.SIGTERM, previous)

    return wrapper


@_stopped_by_signals
def tune_local(spec_path: str | None = None, *, run_id: str | None = None, resume: str | None = None,
               trials: int | None = None, parallel: int | None = None, smoke: bool = False,
               dry_run: bool = False, data_root: str | None = None, seed: int | None = None,
               trial_timeout: float | None = None, warm: bool = True, runs_dir: Path = RUNS_DIR,
               console: Console | None = None) -> int:
    """Run, resume or plan a local sweep; returns the exit status for the task: Ctrl-C ends it with 130 and
    SIGTERM with 143, running trials stopped and marked INTERRUPTED, and a line saying how to resume."""
    console = console or user_console()
    if resume:
        folder = RunFolder.open(resume, runs_dir)
        meta = folder.meta()
        spec = with_budget(load_spec(folder.spec_path), meta["trials"], meta["parallel"], False)
        data_root, seed, trial_timeout = meta["data_root"], meta["seed"], meta.get("trial_timeout")
    else:
        run_id = check_run_id(run_id) if run_id else None  # before anything is prepared or started
        spec = with_budget(load_runnable_spec(spec_path or DEFAULT_SPEC), trials, parallel, smoke)
        data_root = data_root or DEFAULT_DATA
    for advice in spec.advisories():
        console.print(f"[yellow]warning:[/] {advice}")
    if dry_run:
        console.print(plan_table(spec, data_root))
        console.print(f"trials: max {spec.trials.max}, parallel {spec.trials.parallel}, "
                      f"stop after {spec.trials.failure_limit} failed")
        example = {pid: "<value>" for pid in spec.active({})}
        console.print("each trial runs: " + " ".join(spec.trial_argv(data_root, example)), soft_wrap=True)
        return 0
    ensure_default_data(data_root, console)
    if missing := _missing_inputs(spec, data_root):
        raise SpecError(str(spec_path or DEFAULT_SPEC) if not resume else str(folder.spec_path), missing)
    launcher = Launcher(warm=warm)
    if is_reference_trainer(spec.trainer.command):
        launcher.prestart()  # its imports overlap ours

    from jobs.local import journal
    from jobs.local.backend import LocalSweep, views
    from jobs.progress import Progress, params_text

    if not resume:
        run_id = run_id or new_run_id(spec.name)
        folder = RunFolder.create(run_id, Path(spec_path or DEFAULT_SPEC), {
            "backend": "local", "spec": str(spec_path or DEFAULT_SPEC), "data_root": data_root,
            "trials": spec.trials.max, "parallel": spec.trials.parallel, "seed": seed,
            "trial_timeout": trial_timeout, "created": dt.datetime.now().isoformat(timespec="seconds")},
            runs_dir)
    console.print(f"run {folder.run_id} in {folder.root}/", soft_wrap=True)
    with RunLock(folder):
        if aside := journal.repair(folder.journal):
            console.print(f"[yellow]warning:[/] {folder.journal} ended in a torn write (a full disk or a crash); "
                          f"the torn bytes are kept in {aside.name}, every whole record is used", soft_wrap=True)
        sweep = LocalSweep(spec, folder, data_root, seed=seed, trial_timeout=trial_timeout, launcher=launcher)
        progress = Progress(spec.name, spec.metric.goal, sweep.max_trials, sweep.parallel, console=console)
        progress.seed(views(sweep.study))
        sweep.on_event = progress
        try:
            with progress:
                trials_seen = sweep.run()
        except KeyboardInterrupt as exc:
            how = "stopped (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            console.print(f"{how}: running trials stopped. Resume with: invoke tune --resume {folder.run_id}",
                          soft_wrap=True)
            return 143 if isinstance(exc, Terminated) else 130
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            console.print(f"[red]the disk is full[/] ({exc.filename or folder.root}): the sweep stopped; every trial "
                          f"recorded before stays. Free some space, then resume with: invoke tune --resume "
                          f"{folder.run_id}", soft_wrap=True)
            return 1
    if not progress.live_mode:  # the live table ends with the same line
        console.print(progress.summary(), soft_wrap=True)
    best = best_trial(trials_seen, spec.metric.goal)
    if sweep.refused:
        console.print(f"[red]sweep stopped:[/] the first trial's trainer refused its command line ({escape(sweep.refused)}"
                      f"); every trial would fail the same way. Check trainer.args and the parameter ids in the spec; "
                      f"the whole log: {folder.root / 'trials' / '1' / 'log.txt'}", soft_wrap=True)
        return 1
    if sweep.stopped_for_failures:
        console.print(f"[red]sweep stopped:[/] {spec.trials.failure_limit} trials failed (trials.max_failed)")
    if best is None:
        console.print("[red]no trial succeeded[/]; see the logs under " + str(folder.root / "trials"))
        return 1
    ties = sum(t.state == "SUCCEEDED" and t.objective == best.objective for t in trials_seen) - 1
    tied = f" (tied with {ties} other trial{'s' if ties > 1 else ''}; the first is named)" if ties else ""
    console.print(f"best trial: {best.trial_id}  {spec.metric.id} = {best.objective:.6g}{tied}", soft_wrap=True)
    console.print(f"parameters: {params_text(best.parameters)}", soft_wrap=True, markup=False)
    console.print(f"artifacts:  {best.artifact_dir}", soft_wrap=True, markup=False)
    return 1 if sweep.stopped_for_failures else 0



def status_local(run_id: str, runs_dir: Path = RUNS_DIR, console: Console | None = None) -> int:
    """Print a local run's trials and where it stands; works while it runs."""
    from jobs.local.backend import load_run_study, views
    from jobs.progress import Progress

    console = console or user_console()
    folder = RunFolder.open(run_id, runs_dir)
    meta = folder.meta()
    spec = load_spec(folder.spec_path)
    study = load_run_study(folder, spec.name)
    progress = Progress(spec.name, spec.metric.goal, meta["trials"], meta["parallel"], console=console, live=False)
    pid = RunLock.holder(folder)
    trials = views(study)
    if pid is None:  # trials a killed sweep left ACTIVE are not running; a resume runs them again
        trials = [dataclasses.replace(t, state="INTERRUPTED", reason="the sweep stopped while it ran; it reruns "
                                      "on resume") if t.state == "ACTIVE" else t for t in trials]
    progress.seed(trials)
    ended = [t.started + t.duration_s for t in trials if t.duration_s is not None and t.started]
    if trials:
        progress.started = min(t.started for t in trials if t.started)
    console.print(progress.table(every_row=True))
    if pid:
        console.print(f"running (pid {pid}); {progress.summary()}", soft_wrap=True)
        return 0
    console.print(f"not running; {progress.summary(max(ended) if ended else None)}", soft_wrap=True)
    if progress.done() < progress.max_trials:
        console.print(f"carry it on with: invoke tune --resume {run_id}", soft_wrap=True)
    return 0


def cancel_local(run_id: str, runs_dir: Path = RUNS_DIR, console: Console | None = None,
                 wait_s: float = 30.0) -> int:
    """Stop a local run's orchestrator with SIGTERM (which a sweep started in the background from a script
    receives, where SIGINT is ignored): its trials stop, and the run can be resumed. Waits to see it stop."""
    console = console or user_console()
    folder = RunFolder.open(run_id, runs_dir)
    pid = RunLock.holder(folder)
    if pid is None:
        console.print(f"run {run_id} is not running; resume it with: invoke tune --resume {run_id}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while RunLock.holder(folder) == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if RunLock.holder(folder) == pid:
        console.print(f"run {run_id} (pid {pid}) did not stop within {wait_s:g} s; stop it with: kill -9 {pid}, "
                      f"then resume it with: invoke tune --resume {run_id}", soft_wrap=True)
        return 1
    console.print(f"stopped run {run_id} (pid {pid}); resume it with: invoke tune --resume {run_id}", soft_wrap=True)
    return 0
