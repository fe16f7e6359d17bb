"""A Vertex AI job's trials as records for reports and progress, decoded against the spec.

Vertex sends every parameter value as a JSON number or string: integers as ``5.0``, discrete values
as floats, conditional parameters flat beside the others (only when active). Decoding gives each
its spec type back. Trials come in no particular order; records are sorted by trial id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from google.cloud.aiplatform_v1.types import HyperparameterTuningJob, Trial

from jobs.spec import Parameter, Spec
from jobs.trial.record import PREEMPTED, TrialRecord, TrialState, trial_order
from jobs.vertex.resources import VertexSpec

# use-spot-vms: "When Spot VMs are preempted, the serverless training job fails with a STOCKOUT error and Compute
# Engine tries to restart the job up to six times." STOCKOUT is the documented word; the rest of the message, where a
# trial shows it (read here from Trial.infeasible_reason) and the state it ends in are not documented.
STOCKOUT = re.compile(r"\bSTOCKOUT\b")


def decode_value(parameter: Parameter, raw: object) -> object:
    """A value as Vertex sends it, typed as the spec declares it."""
    if parameter.type == "integer":
        return round(float(raw))
    if parameter.type == "discrete":  # the spec's own value, also when float noise came back with it
        return min(parameter.values, key=lambda v: abs(v - float(raw)))
    if parameter.type == "double":
        return float(raw)
    return str(raw)


def decode_parameters(trial: Trial, spec: Spec) -> dict[str, object]:
    """The trial's parameters in spec order (a conditional one only when it was active)."""
    sent = {p.parameter_id: p.value for p in trial.parameters}
    return {pid: decode_value(spec.parameters[pid], sent[pid]) for pid in spec.parameters if pid in sent}


def final_objective(trial: Trial, metric_id: str) -> float | None:
    """The metric's value in the final measurement; None when there is none (an INFEASIBLE trial)."""
    if "final_measurement" not in trial:
        return None
    return next((m.value for m in trial.final_measurement.metrics if m.metric_id == metric_id), None)


def _state(trial: Trial) -> TrialState:
    """Trial.State by name; STATE_UNSPECIFIED (the API's zero value) reads as REQUESTED, not yet running."""
    return TrialState.REQUESTED if trial.state == Trial.State.STATE_UNSPECIFIED else TrialState(trial.state.name)


def _time(trial: Trial, name: str) -> dt.datetime | None:
    return getattr(trial, name) if name in trial else None


def _step(trial: Trial) -> int | None:
    """The last step the trial reported (Trial.measurements are in step order); the final measurement's step
    is the chosen one (the best, with measurement: best), not the last."""
    if trial.measurements:
        return trial.measurements[-1].step_count
    return trial.final_measurement.step_count if "final_measurement" in trial else None


def timed_record(trial: Trial) -> TrialRecord:
    """The trial as a record of its state and when it ran: all its cost needs (jobs/cloud/cost.py), no spec."""
    started, ended = _time(trial, "start_time"), _time(trial, "end_time")
    return TrialRecord(trial_id=trial.id, state=_state(trial), started=started.timestamp() if started else None,
                       duration_s=(ended - started).total_seconds() if started and ended else None)


def trial_record(trial: Trial, spec: VertexSpec, base_output_dir: str) -> TrialRecord:
    """The trial with Vertex's own state (REQUESTED, ACTIVE, STOPPING, SUCCEEDED or INFEASIBLE) and
    the spec's metric from its final measurement (None until it has one)."""
    return dataclasses.replace(
        timed_record(trial),
        objective=final_objective(trial, spec.metric.id),
        parameters=decode_parameters(trial, spec),
        artifact_dir=f"{base_output_dir.rstrip('/')}/{trial.id}",
        reason=_reason(trial, spec),
        step=_step(trial),
    )


def _reason(trial: Trial, spec: VertexSpec) -> str:
    """Why the trial ended without a result, saying so when a Spot trial's error is Spot's STOCKOUT (a standard
    trial's STOCKOUT is a shortage of machines, not a preemption)."""
    reason = trial.infeasible_reason
    if spec.resources.scheduling == "spot" and STOCKOUT.search(reason):
        return f"{PREEMPTED} ({reason})"
    return reason


def trial_records(job: HyperparameterTuningJob, spec: VertexSpec) -> list[TrialRecord]:
    """Every trial of ``job``, sorted by trial id (numerically)."""
    base = job.trial_job_spec.base_output_directory.output_uri_prefix
    records = [trial_record(trial, spec, base) for trial in job.trials]
    return sorted(records, key=lambda r: trial_order(r.trial_id))
