"""``invoke tune --backend vertex``, ``invoke status`` and ``invoke cancel`` for Vertex AI runs.

A run is remembered in ``runs/<run_id>/run.json`` (backend ``vertex``, the job's resource name, the
project and region) beside a copy of its spec. Submitting a run id again attaches to its job instead
of creating a second one: by the run folder, or else by the job's ``run_id`` label on Vertex AI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.backends import TuneRequest
from jobs.cloud.cost import Ceiling, check_ceiling, lower_ceiling, trial_timeout, trials_cost
from jobs.cloud.google import Context, VertexUnavailable, quota_advice
from jobs.cloud.package import TrainerPackage, build_package, plan_package, upload
from jobs.cloud.stack import load_outputs
from jobs.console.plan import plan_table
from jobs.console.progress import Progress, params_text, styled, user_console
from jobs.data.defaults import DEFAULT_SPEC
from jobs.run.budget import planned_trials, with_budget
from jobs.run.folder import RunError, RunFolder, RunMeta, check_run_id, new_run_id
from jobs.spec import Spec, load_runnable_spec, load_spec
from jobs.trial.record import TrialRecord, best_trial
from jobs.vertex.client import ApiSettings, VertexJobs
from jobs.vertex.containers import PYTHON
from jobs.vertex.cost import DEFAULT_MINUTES_PER_TRIAL, estimate_cost, load_prices
from jobs.vertex.follow import follow, job_views, with_stops_from_artifacts
from jobs.vertex.records import trial_records
from jobs.vertex.registry import keep_image
from jobs.vertex.request import base_output_dir, build_tuning_job, request_json, stopping_note, trainer_note
from jobs.vertex.resources import check as check_resources
from jobs.vertex.routes import choose_route, dated_warnings

CONSOLE_URL = "https://console.cloud.google.com/vertex-ai/training/hyperparameter-tuning-jobs?project={project}"
ENDED_BADLY = ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
UNDERWAY = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING",
            "JOB_STATE_UPDATING", "JOB_STATE_PAUSED")


@dataclasses.dataclass(frozen=True)
class VertexOptions:
    """The flags of ``invoke tune`` only the Vertex AI backend takes."""

    stack: str | None = None  # the Pulumi stack whose outputs a sweep runs against
    outputs: str | None = None  # or a file of those outputs
    detach: bool = False
    minutes_per_trial: float | None = None  # for the cost estimate
    prices: str | None = None  # a price table over jobs/vertex/prices.yaml
    max_cost: float | None = None  # overrides trials.max_cost


class VertexRun(RunMeta):
    """run.json of a Vertex AI run: the job, and the stack it ran against."""

    job: str  # the HyperparameterTuningJob's resource name
    project: str
    region: str
    trainer_service_account: str
    outputs: str = ""  # where the stack's outputs came from
    base_output_dir: str = ""


class VertexBackend:
    """Trials as a Vertex AI HyperparameterTuningJob; ``settings`` say how to reach Vertex AI."""

    name: ClassVar[str] = "vertex"
    options: ClassVar[type] = VertexOptions
    resumable: ClassVar[frozenset[str]] = frozenset({"detach", "max_cost"})  # a re-attach may lower the ceiling

    def __init__(self, settings: ApiSettings = ApiSettings(), today: dt.date | None = None):
        self.settings = settings
        self.today = today  # the date Google's end dates are compared with; None: the real one, at each use

    @staticmethod
    def check(spec: Spec, source: str) -> None:
        """The spec's ``vertex:`` section against Vertex AI's machine, GPU and container tables."""
        check_resources(spec, source)

    def plan(self, request: TuneRequest, console: Console) -> int:
        """The exact REST request, what it would upload, and a cost estimate; nothing is built, uploaded or
        submitted."""
        with tempfile.TemporaryDirectory() as scratch:
            spec, outputs, job, cost, package = self._job(request, console, Path(scratch), build=False)
            if package:
                uri = job.trial_job_spec.worker_pool_specs[0].python_package_spec.package_uris[0]
                for line in package.lines(uri):
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print(plan_table(spec))
        console.print(f"POST https://{outputs.region}-aiplatform.googleapis.com/v1/projects/{outputs.project}"
                      f"/locations/{outputs.region}/hyperparameterTuningJobs", soft_wrap=True)
        console.print(request_json(job), markup=False, highlight=False, soft_wrap=True)
        console.print(cost.text(), soft_wrap=True)
        return 0

    def run(self, request: TuneRequest, console: Console) -> int:
        """Submit the sweep, or re-attach to the job of a run submitted before (``--resume`` or the same
        ``--run-id``); follow it unless ``detach``."""
        run_id, options = request.resume or request.run_id, request.options_for(VertexOptions)
        if run_id and (request.runs_dir / run_id / "run.json").exists():
            return self._attach(RunFolder.open(run_id, request.runs_dir), options.detach, options.max_cost, console)
        with tempfile.TemporaryDirectory() as scratch:
            spec, outputs, job, cost, package = self._job(request, console, Path(scratch))
            console.print(cost.text(), soft_wrap=True)
            jobs = self._connect(Context(outputs.project, outputs.region, outputs.trainer_service_account), console)
            run_id = job.labels["run_id"]
            pool = job.trial_job_spec.worker_pool_specs[0]
            if package:
                _upload(package, pool.python_package_spec.package_uris[0], console)
            elif warning := keep_image(pool.container_spec.image_uri, run_id, jobs.credentials, jobs.context,
                                       self.settings.retry, self.settings.registry_endpoint):
                console.print(styled("yellow", "warning:", f" {warning}"), soft_wrap=True)
        job, created = jobs.submit(job)
        spec_file = request.spec or str(DEFAULT_SPEC)
        meta = VertexRun(
            run_id=run_id, backend=self.name, spec=spec_file, job=job.name, project=outputs.project,
            region=outputs.region, trainer_service_account=outputs.trainer_service_account, outputs=outputs.source,
            data_root=request.data_root or outputs.data_root, base_output_dir=base_output_dir(outputs, spec.name,
                                                                                             run_id),
            trials=spec.trials.max, parallel=spec.trials.parallel, hourly_cost=cost.hourly,
            currency=cost.prices.currency, max_cost=spec.trials.max_cost,
            created=dt.datetime.now().isoformat(timespec="seconds"))
        RunFolder.create(Path(spec_file), meta, request.runs_dir)
        console.print(f"run {run_id}: {'submitted' if created else 'already on Vertex AI, attached to'} job {job.name}")
        return self._watch(run_id, job.name, spec, jobs, options.detach, console, meta)

    def status(self, folder: RunFolder, console: Console) -> int:
        """The job's state, its trials and the best so far."""
        meta, spec, jobs = self._open(folder, console)
        job = jobs.get(meta.job)
        views = with_stops_from_artifacts(job_views(job, spec))
        console.print(f"run {folder.run_id}: job {job.name} {job.state.name}", soft_wrap=True)
        table = Table()
        for column in ("trial", "state", spec.metric.id, "duration", "parameters", "note"):
            table.add_column(column)
        for v in views:
            table.add_row(v.trial_id, v.state, "-" if v.objective is None else f"{v.objective:.4g}",
                          "-" if v.duration_s is None else f"{v.duration_s:.0f} s", params_text(v.parameters),
                          Text(v.reason))
        console.print(table)
        return _conclude(job.state.name, job.error.message, views, spec, console, jobs.context)

    def cancel(self, folder: RunFolder, console: Console) -> int:
        """Ask Vertex AI to cancel the run's job; running trials stop, finished ones keep their results."""
        meta, _, jobs = self._open(folder, console)
        jobs.cancel(meta.job)
        console.print(f"cancel requested for run {folder.run_id} (job {meta.job}), now {jobs.get(meta.job).state.name}")
        return 0

    def records(self, folder: RunFolder, spec: Spec) -> list[TrialRecord]:
        """Every trial of the run's job; their artifacts are on GCS."""
        meta, _, jobs = self._open(folder, user_console(stderr=True))
        return trial_records(jobs.get(meta.job), spec)

    def _job(self, request: TuneRequest, console: Console, scratch: Path, build: bool = True):
        """The spec with the run's budget, the stack's outputs, the job to submit, its cost estimate and, on the
        package route, the trainer package (built into ``scratch`` and checked, not uploaded; unless ``build``,
        only what it would hold)."""
        spec_file, options = Path(request.spec or DEFAULT_SPEC), request.options_for(VertexOptions)
        spec = with_budget(load_runnable_spec(spec_file), request.trials, request.parallel, request.smoke,
                           options.max_cost)
        self.check(spec, str(spec_file))
        outputs = load_outputs(options.stack, options.outputs)
        route = choose_route(spec, outputs)
        dated = dated_warnings(spec, outputs, route, self.today or dt.date.today())
        for advice in [*spec.advisories(), trainer_note(spec) if route == "image" else None, stopping_note(spec),
                       *dated]:
            if advice:
                console.print(styled("yellow", "warning:", f" {advice}"))
        run_id = check_run_id(request.run_id or new_run_id(spec.name))
        cost = estimate_cost(spec, load_prices(options.prices), options.minutes_per_trial or DEFAULT_MINUTES_PER_TRIAL,
                             outputs.region)
        check_ceiling(cost, spec.trials.max_cost)
        timeout = trial_timeout(spec, cost, request.trial_timeout, self.settings.min_trial_timeout_s)
        if timeout != request.trial_timeout:
            console.print(f"each trial stops after {timeout:g} s (scheduling.timeout): what trials.max_cost pays each "
                          f"of the {spec.trials.max} trials at the list price", soft_wrap=True)
        package = package_uri = None
        if route == "package":
            if build:
                source = spec_file.parent / spec.trainer.package if spec.trainer.package else "the reference trainer"
                console.print(f"building the trainer package from {source}", soft_wrap=True, markup=False)
                package = build_package(spec, spec_file.parent, scratch, PYTHON)
            else:
                package = plan_package(spec, spec_file.parent, scratch, PYTHON)
            package_uri = package.uri(outputs.staging, spec.name, run_id)
        job = build_tuning_job(spec, outputs, run_id, request.data_root, timeout, package_uri)
        return spec, outputs, job, cost, package

    def _connect(self, context: Context, console: Console) -> VertexJobs:
        return VertexJobs(context, self.settings, on_retry=lambda message: console.print(
            styled("yellow", message), soft_wrap=True))

    def _guard(self, name: str, jobs: VertexJobs, meta: RunMeta, console: Console):
        """While the run is followed: cancel its job once its trials' cost would reach the run's max_cost."""
        if meta.max_cost is None or meta.hourly_cost is None:
            return None
        ceiling = Ceiling(meta.max_cost, meta.hourly_cost, meta.currency or "", 2 * self.settings.poll_s +
                          self.settings.cancel_s)
        cancelled = False

        def check(job) -> None:
            nonlocal cancelled
            if not cancelled and job.state.name in UNDERWAY and (why := ceiling.breach(job.trials, time.time())):
                console.print(styled("yellow", why), soft_wrap=True)
                jobs.cancel(name)
                cancelled = True

        return check

    def _open(self, folder: RunFolder, console: Console) -> tuple[VertexRun, Spec, VertexJobs]:
        """A Vertex run's record, its spec (with the run's budget) and a client for its project."""
        meta = folder.meta()
        if meta.backend != self.name:
            raise RunError(f"run {folder.run_id} is a {meta.backend} run, not a Vertex AI run")
        run = meta.of(VertexRun)
        spec = with_budget(load_spec(folder.spec_path), run.trials, run.parallel)
        return run, spec, self._connect(Context(run.project, run.region, run.trainer_service_account), console)

    def _attach(self, folder: RunFolder, detach: bool, max_cost: float | None, console: Console) -> int:
        """Follow the job of a run submitted before, with its recorded spec and budget; ``max_cost`` (--max-cost)
        lowers its ceiling."""
        meta, spec, jobs = self._open(folder, console)
        console.print(f"run {folder.run_id} was submitted before as job {meta.job}: attaching (spec and budget "
                      "as recorded then)")
        if max_cost is not None:
            meta, said = lower_ceiling(folder, meta, max_cost)
            console.print(said, soft_wrap=True, markup=False)
        return self._watch(folder.run_id, meta.job, spec, jobs, detach, console, meta)

    def _watch(self, run_id: str, name: str, spec: Spec, jobs: VertexJobs, detach: bool, console: Console,
               meta: RunMeta) -> int:
        console.print(f"console: {CONSOLE_URL.format(project=jobs.context.project)}", soft_wrap=True)
        if detach:
            console.print(f"detached; the job runs on. `invoke status {run_id}` shows it, `invoke cancel {run_id}` "
                          "stops it")
            if meta.max_cost is not None:
                console.print(styled("yellow", "warning:", " unfollowed, the job is held to trials.max_cost only by "
                                     "each trial's scheduling.timeout (from the ceiling it was submitted with); "
                                     f"`invoke tune --resume {run_id}` follows it again, cancelling it before the "
                                     "ceiling"), soft_wrap=True)
            return 0
        progress = Progress(spec.name, spec.metric.goal, planned_trials(spec), spec.trials.parallel, console=console)
        guard = self._guard(name, jobs, meta, console)
        try:
            with progress:
                job = follow(jobs, name, spec, progress, self.settings.poll_s,
                             on_job_state=lambda state: console.print(f"job {state}"), on_poll=guard)
        except KeyboardInterrupt:
            console.print(f"stopped watching; the job runs on. Watch again: invoke tune --resume {run_id}; stop it: "
                          f"invoke cancel {run_id}")
            return 130
        except VertexUnavailable as exc:
            again = f"\nthe job runs on; watch again with: invoke tune --resume {run_id}"
            console.print(styled("red", str(exc), again), soft_wrap=True)
            return 1
        console.print(progress.summary())
        if meta.hourly_cost is not None:
            spent = trials_cost(job.trials, meta.hourly_cost, time.time())[0]
            console.print(f"the trials cost about {spent:.4f} {meta.currency} (machine time x list prices; the bill "
                          "comes later and is what counts)")
        return _conclude(job.state.name, job.error.message, job_views(job, spec), spec, console, jobs.context)


def _upload(package: TrainerPackage, uri: str, console: Console) -> None:
    if upload(package, uri):
        console.print(f"uploaded the trainer package to {uri}", soft_wrap=True)
    else:
        console.print(f"the trainer package is already at {uri} (same content): not uploaded again", soft_wrap=True)


def _conclude(state: str, error: str, views: list[TrialRecord], spec: Spec, console: Console,
              context: Context) -> int:
    """Say how the job ended (if it did badly) and name the best trial by the spec's goal; returns 1 when the
    job failed, was cancelled or expired, or succeeded without a single succeeded trial, else 0."""
    ended_badly = state in ENDED_BADLY
    if ended_badly:
        ended = state.removeprefix("JOB_STATE_").lower()
        console.print(styled("red", f"job {ended}", f": {error}" if error else ""), soft_wrap=True)
        if "quota" in error.lower():  # a job can fail on quota after it was accepted (error code 8)
            console.print(quota_advice(error, context), soft_wrap=True, markup=False)
    best = best_trial(views, spec.metric.goal)
    if best is None:
        console.print("no trial has succeeded" + (" yet" if state in UNDERWAY else ""))
        return 1 if ended_badly or state == "JOB_STATE_SUCCEEDED" else 0
    console.print(f"best trial: {best.trial_id}  {spec.metric.id} = {best.objective:.6g}")
    console.print(f"parameters: {params_text(best.parameters)}", markup=False, highlight=False)
    console.print(f"artifacts:  {best.artifact_dir}", soft_wrap=True)
    return 1 if ended_badly else 0
