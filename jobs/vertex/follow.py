"""Following a running Vertex AI job with the same live progress as a local sweep.

Each poll reads the whole job (its trials included) and turns every trial into the ``TrialRecord`` the
progress display knows: ``started`` and ``finished`` events when a trial's state changes, a silent
refresh otherwise. A dropped connection is retried with backoff by the client; the next read picks
up wherever the job has got to, so nothing is missed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from google.cloud.aiplatform_v1.types import HyperparameterTuningJob, Trial

from jobs.console.progress import Progress
from jobs.trial.record import DONE, TrialRecord, TrialState, trial_order
from jobs.trial.reports import Reports
from jobs.vertex.client import VertexJobs
from jobs.vertex.records import trial_record
from jobs.vertex.resources import VertexSpec
from jobs.vertex.states import FINISHED

# Trial.State STOPPING: "Indicates that the Trial should stop according to the service." Which state such a trial
# ends in is not documented (Trial.State has no STOPPED): SUCCEEDED with what it reported is assumed here.
STOPPING_NOTE = "stopping: Vertex AI's early stopping ended it"
ENDED = (TrialState.SUCCEEDED, TrialState.INFEASIBLE)  # Vertex AI's ended states; the others show as running


def stopped_note(step: int | None) -> str:
    return f"stopped early by Vertex AI at step {step}"


def with_stops_from_artifacts(records: list[TrialRecord]) -> list[TrialRecord]:
    """Vertex AI keeps no flag on a trial its early stopping ended once it is SUCCEEDED; the reference trainer
    records ``stopped_by: SIGTERM`` in metrics.json. Reads those (concurrently) and notes the stopped trials.
    Assumed, not documented: that a stopped trial's container receives SIGTERM and the trial ends SUCCEEDED."""
    from jobs.cloud import storage
    from jobs.trial.artifacts import METRICS_FILE, parse_metrics


    done = {v.trial_id: storage.join(v.model_dir, METRICS_FILE) for v in records
            if v.state == TrialState.SUCCEEDED and not v.reason}
    fetched = storage.fetch_many(done.values())
    stopped = {t for t, location in done.items() if parse_metrics(fetched[location])[0].get("stopped_by") == "SIGTERM"}
    return [dataclasses.replace(v, reason=stopped_note(v.step)) if v.trial_id in stopped else v for v in records]


def live_record(trial: Trial, spec: VertexSpec, base_output_dir: str) -> TrialRecord:
    """The trial as progress shows it: still running unless SUCCEEDED or INFEASIBLE, with its final
    value or, before it has one, the value so far by the spec's measurement."""
    record = trial_record(trial, spec, base_output_dir)
    reports = Reports(spec.metric.id)
    reports.by_step = {m.step_count: v.value for m in trial.measurements for v in m.metrics
                       if v.metric_id == spec.metric.id}
    return dataclasses.replace(
        record,
        state=record.state if record.state in ENDED else TrialState.ACTIVE,
        objective=record.objective if record.objective is not None else reports.measure(spec.measurement,
                                                                                          spec.metric.goal),
        reason=record.reason or (STOPPING_NOTE if record.state == TrialState.STOPPING else ""),
        started=record.started or time.time(),
    )


def live_records(job: HyperparameterTuningJob, spec: VertexSpec) -> list[TrialRecord]:
    """Every trial of the job, by trial id (Vertex AI returns them in no particular order)."""
    base = job.trial_job_spec.base_output_directory.output_uri_prefix
    records = [live_record(trial, spec, base) for trial in job.trials]
    return sorted(records, key=lambda r: trial_order(r.trial_id))


class TrialEvents:
    """Feeds successive snapshots of a job to ``progress``; trials already done at the first one are
    shown without an event, as a resumed local sweep shows its past trials."""

    def __init__(self, spec: VertexSpec, progress: Progress):
        self.spec, self.progress = spec, progress
        self._states: dict[str, str] = {}  # trial id -> state at the last snapshot
        self._stopping: set[str] = set()  # trials seen STOPPING: Vertex AI's early stopping ended them
        self._snapshots = 0

    def update(self, job: HyperparameterTuningJob) -> None:
        stopping = {trial.id for trial in job.trials if trial.state == Trial.State.STOPPING}
        self._stopping |= stopping
        for record in live_records(job, self.spec):
            if record.trial_id in self._stopping and record.trial_id not in stopping:
                # Once it has ended, a stopped trial is SUCCEEDED like any other (assumed, see STOPPING_NOTE): only
                # the follower saw it stop.
                record = dataclasses.replace(record, reason=stopped_note(record.step))
            before = self._states.get(record.trial_id)
            if record.state in DONE and before not in DONE and self._snapshots:
                self.progress("finished", record)
            elif record.state not in DONE and before is None:
                self.progress("started", record)
            else:
                self.progress.seed([record])
            self._states[record.trial_id] = record.state
        self._snapshots += 1


def follow(jobs: VertexJobs, name: str, spec: VertexSpec, progress: Progress, poll_s: float,
           on_job_state: Callable[[str], None] | None = None,
           on_poll: Callable[[HyperparameterTuningJob], None] | None = None) -> HyperparameterTuningJob:
    """Poll the job until it ends, calling ``on_poll`` with each snapshot; returns the last one. Raises
    GoogleApiError when Vertex AI stays unreachable past the client's retry deadline (the job itself runs on)."""
    events, state = TrialEvents(spec, progress), None
    while True:
        job = jobs.get(name)
        if job.state.name != state:
            state = job.state.name
            if on_job_state:
                on_job_state(state)
        events.update(job)
        if on_poll:
            on_poll(job)
        if job.state.name in FINISHED:
            return job
        time.sleep(poll_s)
