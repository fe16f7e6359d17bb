"""``invoke tune --backend vertex``, ``invoke status`` and ``invoke cancel`` for Vertex AI runs, and a team's
sweeps with their cost for the team and fleet views.

A run is remembered in ``runs/<run_id>/run.json`` (backend ``vertex``, the job's resource name, the
project and region) beside a copy of its spec. Submitting a run id again attaches to its job instead
of creating a second one: by the run folder, or else by the job's ``run_id`` label on Vertex AI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from infra.config import ResourceNames
from jobs.backends import TuneRequest
from jobs.cloud.cost import Ceiling, check_ceiling, lower_ceiling, trial_timeout, trials_cost
from jobs.cloud.google import ApiUnavailable, Context, quota_advice
from jobs.cloud.package import TrainerPackage, build_package, plan_package, upload
from jobs.cloud.stack import load_outputs
from jobs.data.defaults import DEFAULT_SPEC
from jobs.run.budget import planned_trials, with_budget
from jobs.run.folder import RunError, RunFolder, RunMeta, new_run_id
from jobs.run.outcome import Best, Ending, Line, Notes, Outcome, PlanTable, TrialsTable, warning
from jobs.run.spend import SweepCost
from jobs.spec import Spec, load_runnable_spec, load_spec
from jobs.trial.record import TrialRecord, best_trial
from jobs.vertex.client import ApiSettings, VertexJobs, vertex_context
from jobs.vertex.containers import PYTHON
from jobs.vertex.cost import DEFAULT_MINUTES_PER_TRIAL, estimate_cost, load_prices
from jobs.vertex.follow import follow, live_records, with_stops_from_artifacts
from jobs.vertex.records import timed_record, trial_records
from jobs.vertex.registry import keep_image
from jobs.vertex.request import (
    base_output_dir,
    build_tuning_job,
    check_run_label,
    request_json,
    stopping_note,
    trainer_note,
)
from jobs.vertex.resources import VertexSpec
from jobs.vertex.resources import check as check_resources
from jobs.vertex.routes import choose_route, dated_warnings
from jobs.vertex.spend import team_sweeps
from jobs.vertex.states import ENDED_BADLY, UNDERWAY

CONSOLE_URL = "https://console.cloud.google.com/vertex-ai/training/hyperparameter-tuning-jobs?project={project}"

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
    team: str = ""  # the stack's team (the job's team label); runs recorded before it: jobs/report/teams.py
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
    def check(spec: Spec, source: str) -> VertexSpec:
        """The spec's ``vertex:`` section against Vertex AI's machine, GPU and container tables; the spec returned
        carries it validated, once for the command."""
        return check_resources(spec, source)

    def plan(self, request: TuneRequest, notes: Notes) -> Outcome:
        """The exact REST request, what it would upload, and a cost estimate; nothing is built, uploaded or
        submitted."""
        outcome = Outcome()
        with tempfile.TemporaryDirectory() as scratch:
            spec, outputs, job, cost, package = self._job(request, notes, Path(scratch), build=False)
            if package:
                outcome.add(*package.lines(job.trial_job_spec.worker_pool_specs[0].python_package_spec.package_uris[0]))
        return outcome.add(PlanTable(spec),
                           f"POST https://{outputs.region}-aiplatform.googleapis.com/v1/projects/{outputs.project}"
                           f"/locations/{outputs.region}/hyperparameterTuningJobs", request_json(job), cost.text())

    def sweep(self, request: TuneRequest, notes: Notes) -> Outcome:
        """Submit the sweep, or re-attach to the job of a run submitted before (``--resume`` or the same
        ``--run-id``); follow it unless ``detach``."""
        run_id, options = request.resume or request.run_id, request.options_for(VertexOptions)
        if request.run or (run_id and RunFolder.recorded(run_id, request.runs_dir)):
            folder = request.run or RunFolder.open(run_id, request.runs_dir)
            return self._attach(folder, options.detach, options.max_cost, notes)
        with tempfile.TemporaryDirectory() as scratch:
            spec, outputs, job, cost, package = self._job(request, notes, Path(scratch))
            notes.print(cost.text())
            context = vertex_context(outputs.project, outputs.region, outputs.trainer_service_account)
            jobs = self._connect(context, notes)
            run_id = job.labels["run_id"]
            pool = job.trial_job_spec.worker_pool_specs[0]
            if package:
                _upload(package, pool.python_package_spec.package_uris[0], notes)
            elif kept := keep_image(pool.container_spec.image_uri, run_id, jobs.credentials, jobs.context,
                                    self.settings.retry, self.settings.registry_endpoint):
                notes.print(warning(kept))
        job, created = jobs.submit(job)
        spec_file = request.spec or str(DEFAULT_SPEC)
        meta = VertexRun(
            run_id=run_id, backend=self.name, spec=spec_file, job=job.name, project=outputs.project,
            region=outputs.region, trainer_service_account=outputs.trainer_service_account, team=outputs.team,
            outputs=outputs.source, data_root=request.data_root or outputs.data_root,
            base_output_dir=base_output_dir(outputs, spec.name, run_id),
            trials=spec.trials.max, parallel=spec.trials.parallel, hourly_cost=cost.hourly,
            currency=cost.prices.currency, max_cost=spec.trials.max_cost,
            created=dt.datetime.now().isoformat(timespec="seconds"))
        RunFolder.create(Path(spec_file), meta, request.runs_dir)
        notes.print(f"run {run_id}: {'submitted' if created else 'already on Vertex AI, attached to'} job {job.name}")
        return self._watch(run_id, job.name, spec, jobs, options.detach, notes, meta)

    def status(self, folder: RunFolder, notes: Notes) -> Outcome:
        """The job's state, its trials and the best so far."""
        meta, spec, jobs = self._open(folder, notes)
        job = jobs.get(meta.job)
        spec = self.check(spec, str(folder.spec_path))
        records = with_stops_from_artifacts(live_records(job, spec))
        outcome = Outcome([f"run {folder.run_id}: job {job.name} {job.state.name}",
                           TrialsTable(f"sweep {spec.name}", records, spec.metric.goal)])
        return _conclude(outcome, job.state.name, job.error.message, records, spec, jobs.context)

    def cancel(self, folder: RunFolder, notes: Notes) -> Outcome:
        """Ask Vertex AI to cancel the run's job; running trials stop, finished ones keep their results."""
        meta, _, jobs = self._open(folder, notes)
        jobs.cancel(meta.job)
        return Outcome([f"cancel requested for run {folder.run_id} (job {meta.job}), now "
                        f"{jobs.get(meta.job).state.name}"])

    def records(self, folder: RunFolder, spec: Spec, notes: Notes) -> list[TrialRecord]:
        """Every trial of the run's job; their artifacts are on GCS. Retries are said through ``notes``."""
        meta, _, jobs = self._open(folder, notes)
        return trial_records(jobs.get(meta.job), self.check(spec, str(folder.spec_path)))

    def sweeps(self, project: str, region: str, team: str, since: dt.datetime,
               recorded: Mapping[str, tuple[float, str]], notes: Notes) -> list[SweepCost]:
        """The team's sweeps in the project and region created since ``since``: the jobs labelled with the team,
        each with its trials and their cost so far (``recorded``: the price per trial-hour and currency of the runs
        with a run folder here, by run id; the price table's for the others). Retries are said through ``notes``."""
        account = f"{ResourceNames.of(project, team, region).service_account_id}@{project}.iam.gserviceaccount.com"
        context = vertex_context(project, region, account)
        jobs = self._connect(context, notes)
        return team_sweeps(jobs.labelled(team=team), project, since, load_prices(), recorded, time.time())

    def _job(self, request: TuneRequest, notes: Notes, scratch: Path, build: bool = True):
        """The spec with the run's budget, the stack's outputs, the job to submit, its cost estimate and, on the
        package route, the trainer package (built into ``scratch`` and checked, not uploaded; unless ``build``,
        only what it would hold)."""
        spec_file, options = Path(request.spec or DEFAULT_SPEC), request.options_for(VertexOptions)
        spec = self.check(with_budget(load_runnable_spec(spec_file), request.trials, request.parallel, request.smoke,
                                      options.max_cost), str(spec_file))
        run_id = check_run_label(request.run_id or new_run_id(spec.name))  # before anything is read or built
        outputs = load_outputs(options.stack, options.outputs)
        route = choose_route(spec, outputs)
        dated = dated_warnings(spec, outputs, route, self.today or dt.date.today())
        for advice in [*spec.advisories(), trainer_note(spec) if route == "image" else None, stopping_note(spec),
                       *dated]:
            if advice:
                notes.print(warning(advice))
        cost = estimate_cost(spec, load_prices(options.prices), options.minutes_per_trial or DEFAULT_MINUTES_PER_TRIAL,
                             outputs.region)
        check_ceiling(cost, spec.trials.max_cost)
        timeout = trial_timeout(spec, cost, request.trial_timeout, self.settings.min_trial_timeout_s)
        if timeout != request.trial_timeout:
            notes.print(f"each trial stops after {timeout:g} s (scheduling.timeout): what trials.max_cost pays each "
                        f"of the {spec.trials.max} trials at the list price")
        package = package_uri = None
        if route == "package":
            if build:
                source = spec_file.parent / spec.trainer.package if spec.trainer.package else "the reference trainer"
                notes.print(f"building the trainer package from {source}")
                package = build_package(spec, spec_file.parent, scratch, PYTHON)
            else:
                package = plan_package(spec, spec_file.parent, scratch, PYTHON)
            package_uri = package.uri(outputs.staging, spec.name, run_id)
        job = build_tuning_job(spec, outputs, run_id, request.data_root, timeout, package_uri)
        return spec, outputs, job, cost, package

    def _connect(self, context: Context, notes: Notes) -> VertexJobs:
        return VertexJobs(context, self.settings, on_retry=lambda message: notes.print(Line("", message, "yellow")))

    def _guard(self, name: str, jobs: VertexJobs, meta: RunMeta, notes: Notes):
        """While the run is followed: cancel its job once its trials' cost would reach the run's max_cost."""
        if meta.max_cost is None or meta.hourly_cost is None:
            return None
        ceiling = Ceiling(meta.max_cost, meta.hourly_cost, meta.currency or "", 2 * self.settings.poll_s +
                          self.settings.cancel_s)
        cancelled = False

        def check(job) -> None:
            nonlocal cancelled
            if (not cancelled and job.state.name in UNDERWAY
                    and (why := ceiling.breach([timed_record(t) for t in job.trials], time.time()))):
                notes.print(Line("", why, "yellow"))
                jobs.cancel(name)
                cancelled = True

        return check

    def _open(self, folder: RunFolder, notes: Notes) -> tuple[VertexRun, Spec, VertexJobs]:
        """A Vertex run's record, its spec (with the run's budget) and a client for its project."""
        meta = folder.meta()
        if meta.backend != self.name:
            raise RunError(f"run {folder.run_id} is a {meta.backend} run, not a Vertex AI run")
        run = meta.of(VertexRun)
        spec = with_budget(load_spec(folder.spec_path), run.trials, run.parallel)
        return run, spec, self._connect(vertex_context(run.project, run.region, run.trainer_service_account), notes)

    def _attach(self, folder: RunFolder, detach: bool, max_cost: float | None, notes: Notes) -> Outcome:
        """Follow the job of a run submitted before, with its recorded spec and budget; ``max_cost`` (--max-cost)
        lowers its ceiling."""
        meta, spec, jobs = self._open(folder, notes)
        spec = self.check(spec, str(folder.spec_path))
        notes.print(f"run {folder.run_id} was submitted before as job {meta.job}: attaching (spec and budget "
                    "as recorded then)")
        if max_cost is not None:
            meta, said = lower_ceiling(folder, meta, max_cost)
            notes.print(said)
        return self._watch(folder.run_id, meta.job, spec, jobs, detach, notes, meta)

    def _watch(self, run_id: str, name: str, spec: VertexSpec, jobs: VertexJobs, detach: bool, notes: Notes,
               meta: RunMeta) -> Outcome:
        notes.print(f"console: {CONSOLE_URL.format(project=jobs.context.project)}")
        if detach:
            outcome = Outcome([f"detached; the job runs on. `invoke status {run_id}` shows it, `invoke cancel "
                               f"{run_id}` stops it"])
            if meta.max_cost is not None:
                outcome.add(warning("unfollowed, the job is held to trials.max_cost only by each trial's "
                                    "scheduling.timeout (from the ceiling it was submitted with); `invoke tune "
                                    f"--resume {run_id}` follows it again, cancelling it before the ceiling"))
            return outcome
        progress = notes.progress(spec.name, spec.metric.goal, planned_trials(spec), spec.trials.parallel)
        guard = self._guard(name, jobs, meta, notes)
        try:
            with progress:
                job = follow(jobs, name, spec, progress, self.settings.poll_s,
                             on_job_state=lambda state: notes.print(f"job {state}"), on_poll=guard)
        except KeyboardInterrupt:
            return Outcome([f"stopped watching; the job runs on. Watch again: invoke tune --resume {run_id}; stop "
                            f"it: invoke cancel {run_id}"], Ending.INTERRUPTED)
        except ApiUnavailable as exc:
            return Outcome([Line(f"\nthe job runs on; watch again with: invoke tune --resume {run_id}", str(exc),
                                 "red")], Ending.FAILED)
        outcome = Outcome([progress.summary()])
        if meta.hourly_cost is not None:
            spent = trials_cost([timed_record(t) for t in job.trials], meta.hourly_cost, time.time())[0]
            outcome.add(f"the trials cost about {spent:.4f} {meta.currency} (machine time x list prices; the bill "
                        "comes later and is what counts)")
        return _conclude(outcome, job.state.name, job.error.message, live_records(job, spec), spec, jobs.context)


def _upload(package: TrainerPackage, uri: str, notes: Notes) -> None:
    if upload(package, uri):
        notes.print(f"uploaded the trainer package to {uri}")
    else:
        notes.print(f"the trainer package is already at {uri} (same content): not uploaded again")


def _conclude(outcome: Outcome, state: str, error: str, records: list[TrialRecord], spec: Spec,
              context: Context) -> Outcome:
    """Say how the job ended (if it did badly) and name the best trial by the spec's goal; it ends FAILED when
    the job failed, was cancelled or expired, or succeeded without a single succeeded trial."""
    ended_badly = state in ENDED_BADLY
    if ended_badly:
        ended = state.removeprefix("JOB_STATE_").lower()
        outcome.add(Line(f": {error}" if error else "", f"job {ended}", "red"))
        if "quota" in error.lower():  # a job can fail on quota after it was accepted (error code 8)
            outcome.add(quota_advice(error, context))
        outcome.ending = Ending.FAILED
    if best_trial(records, spec.metric.goal) is None:
        if state == "JOB_STATE_SUCCEEDED":
            outcome.ending = Ending.FAILED
        return outcome.add("no trial has succeeded" + (" yet" if state in UNDERWAY else ""))
    return outcome.add(Best(records, spec.metric.id, spec.metric.goal))
