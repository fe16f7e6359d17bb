"""What a team's Vertex AI sweeps cost: the hyperparameter tuning jobs labelled with the team (the ``team`` label
every job this tool submits carries, jobs/vertex/request.py), each priced as its trials' machine hours x one
trial's hourly price. The price is the run's own (run.json, from the price table when it was submitted) where this
machine has its run folder, else the price table's for the machine the job names. List prices: the bill is what
counts (docs/fleet.md says how to read it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from google.cloud.aiplatform_v1.types import HyperparameterTuningJob

from jobs.cloud.cost import trials_cost
from jobs.run.spend import SweepCost
from jobs.vertex.cost import PriceTable, hourly_price
from jobs.vertex.records import timed_record
from jobs.vertex.request import STRATEGIES
from jobs.vertex.resources import VertexResources

SCHEDULING = {strategy.name: name for name, strategy in STRATEGIES.items()}  # SPOT -> spot; the rest standard


def job_hourly(job: HyperparameterTuningJob, prices: PriceTable) -> float | None:
    """One trial's price per hour from the machine, accelerators and scheduling the job's trials ran with; None
    when the table lacks one of them."""
    machine = job.trial_job_spec.worker_pool_specs[0].machine_spec
    scheduling = SCHEDULING.get(job.trial_job_spec.scheduling.strategy.name, "standard")
    resources = VertexResources.model_construct(  # as submitted: not checked again against today's tables
        machine_type=machine.machine_type, accelerator_count=machine.accelerator_count,
        accelerator_type=machine.accelerator_type.name if machine.accelerator_count else None, scheduling=scheduling)
    return hourly_price(resources, prices.scheduled(scheduling))[0]


def job_sweep(job: HyperparameterTuningJob, project: str, hourly: float | None, currency: str,
              now: float) -> SweepCost:
    """The job as one sweep: its run id, team and spec labels, its trials, and their cost so far at ``hourly``."""
    labels = job.labels
    cost = trials_cost([timed_record(t) for t in job.trials], hourly, now)[0] if hourly is not None else None
    return SweepCost(run_id=labels.get("run_id", job.name.rsplit("/", 1)[-1]), backend="vertex",
                     team=labels.get("team", ""), project=project, spec=labels.get("spec", ""),
                     created=job.create_time, trials=len(job.trials), cost=cost, currency=currency)


def team_sweeps(jobs: list[HyperparameterTuningJob], project: str, since: dt.datetime, prices: PriceTable,
                recorded: Mapping[str, tuple[float, str]], now: float) -> list[SweepCost]:
    """The jobs created since ``since`` as sweeps; ``recorded``: the hourly price and its currency of the runs with
    a run folder here, by run id."""
    found = []
    for job in jobs:
        if job.create_time < since:
            continue
        hourly, currency = recorded.get(job.labels.get("run_id", ""), (job_hourly(job, prices), prices.currency))
        found.append(job_sweep(job, project, hourly, currency, now))
    return found
