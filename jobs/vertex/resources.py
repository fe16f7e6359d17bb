"""The spec's ``vertex:`` section: the machine each Vertex AI trial runs on, and how it takes it.

Only the Vertex AI backend reads it: ``check`` validates it (against Vertex AI's machine, GPU and container
tables) when that backend plans, submits or reads a sweep, so a local sweep never meets Vertex AI's rules. It does
so once per command: what it returns, a ``VertexSpec``, carries the validated section to every part of the sweep.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationError, model_validator

from jobs.spec import Spec, SpecError
from jobs.spec.base import INT32_MAX, StrictModel, raise_if
from jobs.spec.messages import translate
from jobs.vertex.containers import prebuilt_problem
from jobs.vertex.machines import machine_problem, machine_type_problem

SECTION = "vertex"
# Flex-start ("Schedule training jobs with Dynamic Workload Scheduler"): "Your serverless training job requests L4,
# A100, H100, H200, or B200 GPUs" (and "a maximum timeout of 7 days or less": jobs/vertex/request.py).
FLEX_START_GPUS = ("NVIDIA_L4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB",
                   "NVIDIA_H200_141GB", "NVIDIA_B200")


def _prebuilt(value: str | None) -> str | None:
    # PythonPackageSpec.executorImageUri: "You must use an image from this list" (the prebuilt training containers)
    if value is not None and (why := prebuilt_problem(value)):
        raise ValueError(f"must be one of Vertex AI's prebuilt training containers: {why}")
    return value


class VertexResources(StrictModel):
    """The machine each Vertex AI trial runs on."""

    machine_type: str = Field(default="n1-standard-4", min_length=1)
    accelerator_type: str | None = Field(default=None, min_length=1)
    accelerator_count: int = Field(default=0, ge=0)
    # image: the stack's trainer image; package: a Python package on a prebuilt container (jobs/vertex/routes.py)
    route: Literal["image", "package"] | None = None
    executor_image: Annotated[str | None, AfterValidator(_prebuilt)] = None
    # Scheduling.strategy of each trial's job (aiplatform v1 CustomJobSpec.scheduling): STANDARD, SPOT, FLEX_START
    scheduling: Literal["standard", "spot", "flex_start"] = "standard"
    # Scheduling.max_wait_duration, flex_start only: 0 waits indefinitely; unset, the service's default of 24 hours
    max_wait_minutes: int | None = Field(default=None, ge=0, le=INT32_MAX)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = self._scheduling_problems()
        if self.accelerator_count > 0 and self.accelerator_type is None:
            problems.append(("accelerator_type", f"is required when accelerator_count is {self.accelerator_count}"))
        if self.accelerator_count == 0 and self.accelerator_type is not None:
            problems.append(("accelerator_count", f"must be > 0 when accelerator_type is {self.accelerator_type!r} "
                                                  "(leave accelerator_type out for none)"))
        if not problems and (why := machine_type_problem(self.machine_type)):
            problems.append(("machine_type", why))
        elif not problems and (why := machine_problem(self.machine_type, self.accelerator_type,
                                                      self.accelerator_count)):
            problems.append(("accelerator_type" if self.accelerator_type else "machine_type", why))
        raise_if(problems)
        return self

    def _scheduling_problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.scheduling == "flex_start" and self.accelerator_type not in FLEX_START_GPUS:
            problems.append(("scheduling", "flex_start (Dynamic Workload Scheduler) takes only L4, A100, H100, H200 "
                                           "or B200 GPUs, " + (f"not {self.accelerator_type}" if self.accelerator_type
                                                              else "and this machine has none")
                             + f": set vertex.accelerator_type to one of {', '.join(FLEX_START_GPUS)}, or use "
                               "standard or spot"))
        if self.max_wait_minutes is not None and self.scheduling != "flex_start":
            problems.append(("max_wait_minutes", "is how long a flex_start trial waits for its machine, and "
                                                 f"vertex.scheduling is {self.scheduling}: set scheduling to "
                                                 "flex_start, or leave max_wait_minutes out"))
        return problems


class VertexSpec(Spec):
    """A spec the Vertex AI backend has checked: the spec, and its ``vertex:`` section validated (``resources``)."""

    resources: VertexResources = Field(exclude=True)


def check(spec: Spec, source: str) -> VertexSpec:
    """The spec with its ``vertex:`` section (its defaults where it has none) validated, and the rules between it and
    the rest of the spec; one SpecError lists every problem, each as ``<source>: vertex.<field>: <reason>``."""
    try:
        found = VertexResources.model_validate(spec.section(SECTION))
    except ValidationError as exc:
        raise SpecError(source, translate(exc, VertexResources, SECTION)) from None
    problems = []
    if found.route == "image" and found.executor_image:
        problems.append(("vertex.executor_image", "is the package route's container; vertex.route image runs "
                                                  "the stack's image: leave one of them out"))
    if found.route == "image" and spec.trainer.package:
        problems.append(("vertex.route", "image runs the stack's trainer image, which does not run "
                                         "trainer.package: use route package, or leave trainer.package out"))
    if problems:
        raise SpecError(source, problems)
    fields = {name: getattr(spec, name) for name in Spec.model_fields}  # valid already: not validated again
    return VertexSpec.model_construct(spec.model_fields_set, **fields, resources=found)
