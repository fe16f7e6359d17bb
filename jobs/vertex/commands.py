"""``invoke tune --backend vertex``, ``invoke status`` and ``invoke cancel`` for Vertex AI runs.

A run is remembered in ``runs/<run_id>/run.json`` (backend ``vertex``, the job's resource name, the
project and region) beside a copy of its spec. Submitting a run id again attaches to its job instead
of creating a second one: by the run folder, or else by the job's ``run_id`` label on Vertex AI.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobs.progress import Progress, params_text, user_console
from jobs.runs import RUNS_DIR, RunError, RunFolder, check_run_id, new_run_id
from jobs.spec import Spec, load_runnable_spec, load_spec
from jobs.trials import TrialRecord, best_trial
from jobs.defaults import DEFAULT_SPEC
from jobs.tune import plan_table, with_budget
from jobs.vertex.client import ApiSettings, VertexJobs
from jobs.vertex.cost import DEFAULT_MINUTES_PER_TRIAL, estimate_cost, load_prices, planned_trials
from jobs.vertex.errors import Context, VertexUnavailable, quota_advice
from jobs.vertex.follow import follow, job_views, with_stops_from_artifacts
from jobs.vertex.outputs import load_outputs
from jobs.vertex.records import trial_records
from jobs.vertex.registry import keep_image
from jobs.vertex.request import base_output_dir, build_tuning_job, request_json, trainer_note

CONSOLE_URL = "https://console.cloud.google.com/vertex-ai/training/hyperparameter-tuning-jobs?project={project}"
ENDED_BADLY = ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
UNDERWAY = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING",
            "JOB_STATE_UPDATING", "JOB_STATE_PAUSED")


def tune_vertex(spec_path: str | None = None, *, stack: str | None = None, outputs_file: str | None = None,
                run_id: str | None = None, trials: int | None = None, parallel: int | None = None,
                smoke: bool = False, dry_run: bool = False, detach: bool = False, data_root: str | None = None,
                minutes_per_trial: float = DEFAULT_MINUTES_PER_TRIAL, prices_file: str | None = None,
                trial_timeout_s: float | None = None, runs_dir: Path = RUNS_DIR, console: Console | None = None,
                settings: ApiSettings = ApiSettings()) -> int:
    """Plan (``dry_run``), submit or re-attach to a Vertex AI sweep, then follow it unless ``detach``;
    returns the exit status for the task."""
    console = console or user_console()
    if run_id and not dry_run and (runs_dir / run_id / "run.json").exists():
        return _attach(RunFolder.open(run_id, runs_dir), detach, console, settings)
    spec_file = Path(spec_path or DEFAULT_SPEC)
    spec = with_budget(load_runnable_spec(spec_file), trials, parallel, smoke)
    for advice in [*spec.advisories(), trainer_note(spec)]:
        if advice:
            console.print(f"[yellow]warning:[/] {escape(advice)}")
    outputs = load_outputs(stack, outputs_file)
    run_id = check_run_id(run_id or new_run_id(spec.name))
    job = build_tuning_job(spec, outputs, run_id, data_root, trial_timeout_s)
    cost = estimate_cost(spec, load_prices(prices_file), minutes_per_trial, outputs.region)
    if dry_run:
        console.print(plan_table(spec, data_root or outputs.data_root))
        console.print(f"POST https://{outputs.region}-aiplatform.googleapis.com/v1/projects/{outputs.project}"
                      f"/locations/{outputs.region}/hyperparameterTuningJobs", soft_wrap=True)
        console.print(request_json(job), markup=False, highlight=False, soft_wrap=True)
        console.print(cost.text(), soft_wrap=True)
        return 0
    console.print(cost.text(), soft_wrap=True)
    jobs = _connect(Context(outputs.project, outputs.region, outputs.trainer_service_account), settings, console)
    image = job.trial_job_spec.worker_pool_specs[0].container_spec.image_uri
    if warning := keep_image(image, run_id, jobs.credentials, jobs.context, settings.backoff,
                             settings.registry_endpoint):
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    job, created = jobs.submit(job)
    RunFolder.create(run_id, spec_file, {
        "backend": "vertex", "spec": str(spec_file), "job": job.name, "project": outputs.project,
        "region": outputs.region, "trainer_service_account": outputs.trainer_service_account,
        "outputs": outputs.source, "data_root": data_root or outputs.data_root,
        "base_output_dir": base_output_dir(outputs, spec.name, run_id), "trials": spec.trials.max,
        "parallel": spec.trials.parallel, "created": dt.datetime.now().isoformat(timespec="seconds")}, runs_dir)
    console.print(f"run {run_id}: {'submitted' if created else 'already on Vertex AI, attached to'} job {job.name}")
    return _watch(run_id, job.name, spec, jobs, detach, console, settings.poll_s)


def _connect(context: Context, settings: ApiSettings, console: Console) -> VertexJobs:
    return VertexJobs(context, settings, on_retry=lambda message: console.print(f"[yellow]{escape(message)}[/]",
                                                                                soft_wrap=True))


def _open(folder: RunFolder, settings: ApiSettings, console: Console) -> tuple[dict, Spec, VertexJobs]:
    """A Vertex run's record, its spec (with the run's budget) and a client for its project."""
    meta = folder.meta()
    if meta.get("backend") != "vertex":
        raise RunError(f"run {folder.run_id} is a {meta.get('backend', 'local')} run, not a Vertex AI run")
    spec = with_budget(load_spec(folder.spec_path), meta["trials"], meta["parallel"], False)
    context = Context(meta["project"], meta["region"], meta["trainer_service_account"])
    return meta, spec, _connect(context, settings, console)


def _attach(folder: RunFolder, detach: bool, console: Console, settings: ApiSettings) -> int:
    meta, spec, jobs = _open(folder, settings, console)
    console.print(f"run {folder.run_id} was submitted before as job {meta['job']}: attaching (spec and budget "
                  "as recorded then)")
    return _watch(folder.run_id, meta["job"], spec, jobs, detach, console, settings.poll_s)


def _watch(run_id: str, name: str, spec: Spec, jobs: VertexJobs, detach: bool, console: Console,
           poll_s: float) -> int:
    console.print(f"console: {CONSOLE_URL.format(project=jobs.context.project)}", soft_wrap=True)
    if detach:
        console.print(f"detached; the job runs on. `invoke status {run_id}` shows it, `invoke cancel {run_id}` "
                      "stops it")
        return 0
    progress = Progress(spec.name, spec.metric.goal, planned_trials(spec), spec.trials.parallel, console=console)
    try:
        with progress:
            job = follow(jobs, name, spec, progress, poll_s,
                         on_job_state=lambda state: console.print(f"job {state}"))
    except KeyboardInterrupt:
        console.print(f"stopped watching; the job runs on. Watch again: invoke tune --backend vertex --run-id "
                      f"{run_id}; stop it: invoke cancel {run_id}")
        return 130
    except VertexUnavailable as exc:
        console.print(f"[red]{escape(str(exc))}[/]\nthe job runs on; watch again with: "
                      f"invoke tune --backend vertex --run-id {run_id}", soft_wrap=True)
        return 1
    console.print(progress.summary())
    return _conclude(job.state.name, job.error.message, job_views(job, spec), spec, console, jobs.context)


def _conclude(state: str, error: str, views: list[TrialRecord], spec: Spec, console: Console,
              context: Context) -> int:
    """Say how the job ended (if it did badly) and name the best trial by the spec's goal; returns 1 when the
    job failed, was cancelled or expired, or succeeded without a single succeeded trial, else 0."""
    ended_badly = state in ENDED_BADLY
    if ended_badly:
        ended = state.removeprefix("JOB_STATE_").lower()
        console.print(f"[red]job {ended}[/]" + (f": {escape(error)}" if error else ""), soft_wrap=True)
        if "quota" in error.lower():  # a job can fail on quota after it was accepted (error code 8)
            console.print(escape(quota_advice(error, context)), soft_wrap=True)
    best = best_trial(views, spec.metric.goal)
    if best is None:
        console.print("no trial has succeeded" + (" yet" if state in UNDERWAY else ""))
        return 1 if ended_badly or state == "JOB_STATE_SUCCEEDED" else 0
    console.print(f"best trial: {best.trial_id}  {spec.metric.id} = {best.objective:.6g}")
    console.print(f"parameters: {params_text(best.parameters)}", markup=False, highlight=False)
    console.print(f"artifacts:  {best.artifact_dir}", soft_wrap=True)
    return 1 if ended_badly else 0


def vertex_status(run_id: str, *, runs_dir: Path = RUNS_DIR, console: Console | None = None,
                  settings: ApiSettings = ApiSettings()) -> int:
    """Show a Vertex AI run's job state, its trials and the best so far."""
    console = console or user_console()
    meta, spec, jobs = _open(RunFolder.open(run_id, runs_dir), settings, console)
    job = jobs.get(meta["job"])
    views = with_stops_from_artifacts(job_views(job, spec))
    console.print(f"run {run_id}: job {job.name} {job.state.name}", soft_wrap=True)
    table = Table()
    for column in ("trial", "state", spec.metric.id, "duration", "parameters", "note"):
        table.add_column(column)
    for v in views:
        table.add_row(v.trial_id, v.state, "-" if v.objective is None else f"{v.objective:.4g}",
                      "-" if v.duration_s is None else f"{v.duration_s:.0f} s", params_text(v.parameters),
                      escape(v.reason))
    console.print(table)
    return _conclude(job.state.name, job.error.message, views, spec, console, jobs.context)


def vertex_cancel(run_id: str, *, runs_dir: Path = RUNS_DIR, console: Console | None = None,
                  settings: ApiSettings = ApiSettings()) -> int:
    """Ask Vertex AI to cancel a run's job; running trials stop, finished ones keep their results."""
    console = console or user_console()
    meta, _, jobs = _open(RunFolder.open(run_id, runs_dir), settings, console)
    jobs.cancel(meta["job"])
    console.print(f"cancel requested for run {run_id} (job {meta['job']}), now {jobs.get(meta['job']).state.name}")
    return 0


def vertex_records(run_id: str, *, runs_dir: Path = RUNS_DIR,
                   settings: ApiSettings = ApiSettings()) -> list[TrialRecord]:
    """Every trial of a Vertex AI run as a record, for the report."""
    meta, spec, jobs = _open(RunFolder.open(run_id, runs_dir), settings, user_console(stderr=True))
    return trial_records(jobs.get(meta["job"]), spec)
