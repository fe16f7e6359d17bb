"""A sweep spec as the Vertex AI HyperparameterTuningJob that runs it (aiplatform_v1 types).

Every parameter keeps its type and scale; a conditional parameter is nested under its parent as a
``conditional_parameter_spec``. Each trial runs, with ``trainer.args`` ({data} = the stack's data root), either
the stack's trainer image (entrypoint ``python -m trainer``; ``containerSpec``) or ``python -m MODULE`` from an
uploaded package on a prebuilt container (``pythonPackageSpec``, jobs/vertex/routes.py), as the trainer service
account, writing under ``<artifacts_root>/<spec name>/<run id>/<trial id>/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from google.cloud.aiplatform_v1.types import (
    AcceleratorType,
    ContainerSpec,
    CustomJobSpec,
    EnvVar,
    GcsDestination,
    HyperparameterTuningJob,
    MachineSpec,
    PythonPackageSpec,
    Scheduling,
    StudySpec,
    WorkerPoolSpec,
)
from google.protobuf import json_format

from jobs.cloud.stack import StackOutputs
from jobs.errors import UserError
from jobs.spec import Parameter, Spec
from jobs.trial.command import is_reference_trainer, module_of
from jobs.trial.environment import ACCELERATOR_ENV
from jobs.vertex.containers import executor_image
from jobs.vertex.resources import VertexSpec

ParameterSpec = StudySpec.ParameterSpec
Condition = ParameterSpec.ConditionalParameterSpec
ALGORITHMS = {"adaptive": StudySpec.Algorithm.ALGORITHM_UNSPECIFIED,  # Vertex's Bayesian default
              "random": StudySpec.Algorithm.RANDOM_SEARCH,
              "grid": StudySpec.Algorithm.GRID_SEARCH}
MEASUREMENTS = {"best": StudySpec.MeasurementSelectionType.BEST_MEASUREMENT,
                "last": StudySpec.MeasurementSelectionType.LAST_MEASUREMENT}
SCALES = {"linear": ParameterSpec.ScaleType.UNIT_LINEAR_SCALE,
          "log": ParameterSpec.ScaleType.UNIT_LOG_SCALE,
          "reverse_log": ParameterSpec.ScaleType.UNIT_REVERSE_LOG_SCALE}
GOALS = {"maximize": StudySpec.MetricSpec.GoalType.MAXIMIZE, "minimize": StudySpec.MetricSpec.GoalType.MINIMIZE}
ENTRYPOINT = ["python", "-m", "trainer"]  # what the trainer image runs (trainer/Dockerfile)
# Scheduling.Strategy (custom_job.proto): SPOT "uses spot resources", FLEX_START "uses DWS to queue for resources";
# standard is not sent: STRATEGY_UNSPECIFIED "will default to STANDARD".
STRATEGIES = {"spot": Scheduling.Strategy.SPOT, "flex_start": Scheduling.Strategy.FLEX_START}
FLEX_START_MAX_TIMEOUT_S = 7 * 24 * 3600  # schedule-jobs-dws: "a maximum timeout of 7 days or less"


# HyperparameterTuningJob.labels: keys and values of at most 64 lowercase letters, digits, '_' and '-'. A run id
# is the job's run_id label; starting with a letter or digit, it is also a folder name (jobs/run/folder.py).
RUN_LABEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class RequestError(UserError, ValueError):
    """The spec or run id cannot become a Vertex AI job."""


def check_run_label(run_id: str) -> str:
    """A Vertex AI run's id, which becomes its job's ``run_id`` label: a label value."""
    if not RUN_LABEL.fullmatch(run_id):
        raise RequestError(f"run id {run_id!r}: on Vertex AI it is the job's run_id label, so it must be 1-63 "
                           "characters of lowercase letters, digits, '_' and '-', starting with a letter or digit: "
                           "pick another --run-id")
    return run_id


def base_output_dir(outputs: StackOutputs, spec_name: str, run_id: str) -> str:
    """``gs://<bucket>/artifacts/<spec name>/<run id>/``: trial ``N`` writes under ``N/``."""
    return f"{outputs.artifacts_root.rstrip('/')}/{spec_name}/{run_id}/"


def spec_hash(spec: VertexSpec) -> str:
    """The job's ``spec_hash`` label: 16 hex digits of the sha256 of the spec as canonical JSON (sorted keys), its
    budget included and ``trials.max_cost`` left out (run.json keeps the ceiling, which a re-attach may lower).
    Fields left at their defaults are left out, so a field added to the spec later keeps old jobs' hashes."""
    body = spec.model_dump(mode="json", exclude_defaults=True, exclude={"trials": {"max_cost"}})
    body.pop("vertex", None)  # its fields left at their defaults left out too, as for the spec's own fields
    if resources := spec.resources.model_dump(mode="json", exclude_defaults=True):
        body["vertex"] = resources
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def trainer_note(spec: Spec) -> str | None:
    """What to tell the user when the image route runs and ``trainer.command`` is not the reference trainer."""
    if is_reference_trainer(spec.trainer.command):
        return None
    return (f"trainer.command is {' '.join(spec.trainer.command)!r}, but on the image route each trial runs the "
            f"trainer image's entrypoint ({' '.join(ENTRYPOINT)}); the command is not sent. To tune another "
            "trainer, run it as a package (trainer.package, vertex.route: package) or set an image whose "
            "entrypoint runs it as the stack's trainerImage.")


def stopping_note(spec: Spec) -> str | None:
    """What to tell the user when ``early_stopping`` is set for Vertex AI: the stopping spec is sent, and whether the
    service stops trials with it is not documented (using-hyperparameter-tuning: "Ignore the Enable early stopping
    toggle, which has no effect")."""
    if spec.early_stopping == "none":
        return None
    kind = spec.early_stopping.replace("_", " ")
    return (f"early_stopping {spec.early_stopping} is sent as StudySpec's {kind} automated stopping spec, but Google "
            "does not document that a hyperparameter tuning job stops trials with it (its console's early-stopping "
            "toggle \"has no effect\"): every trial may run to its end. To save epochs, run the sweep locally, where "
            "the rule is applied and measured (README, Benchmarks), or let the trainer stop itself (the reference "
            "trainer's --patience).")


def study_spec(spec: Spec) -> StudySpec:
    """The metric, the parameters (conditional ones nested under their parent), the search and early stopping."""
    study = StudySpec(
        metrics=[StudySpec.MetricSpec(metric_id=spec.metric.id, goal=GOALS[spec.metric.goal])],
        parameters=[_parameter_spec(spec, pid) for pid, p in spec.parameters.items() if not p.when],
        algorithm=ALGORITHMS[spec.algorithm],
        measurement_selection_type=MEASUREMENTS[spec.measurement],
    )
    # StudySpec.automated_stopping_spec (study.proto): median "stops a pending Trial if the Trial's best objective_value
    # is strictly below the median 'performance' of all completed Trials"; decay curve requests stopping "if there is
    # very low probability to exceed the optimal value found so far". That a tuning job acts on them is assumed, not
    # documented (stopping_note).
    if spec.early_stopping == "median":
        study.median_automated_stopping_spec = StudySpec.MedianAutomatedStoppingSpec(use_elapsed_duration=False)
    elif spec.early_stopping == "decay_curve":
        study.decay_curve_stopping_spec = StudySpec.DecayCurveAutomatedStoppingSpec(use_elapsed_duration=False)
    return study


def _parameter_spec(spec: Spec, pid: str) -> ParameterSpec:
    p = spec.parameters[pid]
    out = ParameterSpec(parameter_id=pid)
    if p.type == "double":
        out.double_value_spec = ParameterSpec.DoubleValueSpec(min_value=p.min, max_value=p.max)
    elif p.type == "integer":
        out.integer_value_spec = ParameterSpec.IntegerValueSpec(min_value=p.min, max_value=p.max)
    elif p.type == "discrete":
        out.discrete_value_spec = ParameterSpec.DiscreteValueSpec(values=p.values)
    else:
        out.categorical_value_spec = ParameterSpec.CategoricalValueSpec(values=p.values)
    if p.type != "categorical":
        out.scale_type = SCALES[p.scale]
    out.conditional_parameter_specs = [_condition(p, values, _parameter_spec(spec, child))
                                       for child, c in spec.parameters.items() if c.when
                                       for parent, values in c.when.items() if parent == pid]
    return out


def _condition(parent: Parameter, values: list, child: ParameterSpec) -> Condition:
    """The parent's values that switch ``child`` on, in the field of the parent's type."""
    if parent.type == "integer":
        return Condition(parent_int_values=Condition.IntValueCondition(values=values), parameter_spec=child)
    if parent.type == "discrete":
        return Condition(parent_discrete_values=Condition.DiscreteValueCondition(values=[float(v) for v in values]),
                         parameter_spec=child)
    return Condition(parent_categorical_values=Condition.CategoricalValueCondition(values=values), parameter_spec=child)


def trial_image(spec: VertexSpec, outputs: StackOutputs) -> str:
    """The stack's image for ``spec``: the CUDA one when trials have GPUs (refused when the stack has none)."""
    if not spec.resources.accelerator_type:
        return outputs.image
    if outputs.cuda_image is None:
        raise RequestError(
            f"vertex.accelerator_type {spec.resources.accelerator_type}: the stack ({outputs.source}) has no CUDA "
            "trainer image, and its CPU image would leave the GPUs idle while they are billed; set "
            "sweeps:cudaImage: true (or name one with sweeps:trainerCudaImage) in the stack config and run "
            "`invoke infra.up --stack STACK`, or run it on the package route (vertex.route: package), or leave "
            "accelerator_type out")
    return outputs.cuda_image


def package_image(spec: VertexSpec, outputs: StackOutputs) -> str:
    """The package route's prebuilt container: ``vertex.executor_image``, else the default for the trial's GPUs
    (jobs/vertex/containers.py)."""
    resources = spec.resources
    return resources.executor_image or executor_image(outputs.region, bool(resources.accelerator_type))


def _worker_pool(spec: VertexSpec, outputs: StackOutputs, data_root: str, package_uri: str | None) -> WorkerPoolSpec:
    """One replica running the stack's image, or the package at ``package_uri`` on a prebuilt container (the
    two are a oneof, ``task``), with the trainer's args and, with GPUs, ACCELERATOR_ENV (the reference trainer
    then refuses the CPU)."""
    resources = spec.resources
    env = [EnvVar(name=ACCELERATOR_ENV, value=f"{resources.accelerator_count}x{resources.accelerator_type}")
           ] if resources.accelerator_type else []
    pool = WorkerPoolSpec(machine_spec=_machine_spec(spec), replica_count=1)
    if package_uri is None:
        pool.container_spec = ContainerSpec(image_uri=trial_image(spec, outputs), args=spec.trainer_args(data_root),
                                            env=env)
    else:  # PythonPackageSpec: executorImageUri, packageUris (gs://), pythonModule, args, env: all as documented
        pool.python_package_spec = PythonPackageSpec(
            executor_image_uri=package_image(spec, outputs),
            package_uris=[package_uri], python_module=module_of(spec.trainer.command),
            args=spec.trainer_args(data_root), env=env)
    return pool


def _machine_spec(spec: VertexSpec) -> MachineSpec:
    resources = spec.resources
    machine = MachineSpec(machine_type=resources.machine_type)
    if resources.accelerator_type:  # the spec checked it against Vertex AI's GPU table (jobs/vertex/machines.py)
        machine.accelerator_type = AcceleratorType[resources.accelerator_type]
        machine.accelerator_count = resources.accelerator_count
    return machine


def trial_scheduling(spec: VertexSpec, timeout_s: float | None) -> Scheduling | None:
    """CustomJobSpec.scheduling of each trial: ``timeout`` ("the maximum job running time"), ``strategy`` for spot
    and flex_start, and flex_start's ``max_wait_duration`` ("If set to 0, the job will wait indefinitely"); None
    when there is nothing to send."""
    vertex, fields = spec.resources, {}
    if vertex.scheduling == "flex_start" and timeout_s and timeout_s > FLEX_START_MAX_TIMEOUT_S:
        raise RequestError(f"--trial-timeout {timeout_s:g}: vertex.scheduling flex_start runs each trial for at most "
                           f"7 days ({FLEX_START_MAX_TIMEOUT_S} s, Dynamic Workload Scheduler's limit): give a shorter "
                           "--trial-timeout, or use standard or spot")
    if timeout_s:
        fields["timeout"] = dt.timedelta(seconds=timeout_s)
    if vertex.scheduling in STRATEGIES:
        fields["strategy"] = STRATEGIES[vertex.scheduling]
    if vertex.max_wait_minutes is not None:
        fields["max_wait_duration"] = dt.timedelta(minutes=vertex.max_wait_minutes)
    return Scheduling(**fields) if fields else None


def build_tuning_job(spec: VertexSpec, outputs: StackOutputs, run_id: str, data_root: str | None = None,
                     trial_timeout_s: float | None = None, package_uri: str | None = None) -> HyperparameterTuningJob:
    """The job that runs ``spec`` on the stack; ``data_root`` (a gs:// prefix) overrides the stack's;
    ``trial_timeout_s`` caps each trial's job (Vertex AI's default is 7 days); with ``package_uri`` (the
    uploaded trainer package) trials take the package route, else the stack's image."""
    check_run_label(run_id)
    data_root = data_root or outputs.data_root
    if not data_root.startswith("gs://"):
        raise RequestError(f"data root {data_root!r}: Vertex AI trials read their data from GCS; give a gs:// prefix")
    trials = spec.trials
    return HyperparameterTuningJob(
        display_name=run_id,
        study_spec=study_spec(spec),
        max_trial_count=trials.max,
        parallel_trial_count=trials.parallel,
        # maxFailedTrialCount 0 would let Vertex AI pick the limit (aiplatform v1 reference): never sent.
        # 0: "Vertex AI decides how many Trials must fail" (HyperparameterTuningJob.maxFailedTrialCount)
        max_failed_trial_count=trials.failure_limit or 0,
        trial_job_spec=CustomJobSpec(
            worker_pool_specs=[_worker_pool(spec, outputs, data_root, package_uri)],
            service_account=outputs.trainer_service_account,
            scheduling=trial_scheduling(spec, trial_timeout_s),
            base_output_directory=GcsDestination(output_uri_prefix=base_output_dir(outputs, spec.name, run_id)),
        ),
        # HyperparameterTuningJob.labels: keys and values of at most 64 lowercase letters, digits, '_' and '-'.
        labels={"spec": spec.name, "run_id": run_id, "team": outputs.team, "spec_hash": spec_hash(spec)},
    )


def request_json(job: HyperparameterTuningJob) -> str:
    """The job as the REST API's JSON body (camelCase field names, enums by name)."""
    return json_format.MessageToJson(HyperparameterTuningJob.pb(job), indent=2)
