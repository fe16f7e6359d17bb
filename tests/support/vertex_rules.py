"""What the Vertex AI stand-in (vertex_standin.py) holds the service to: its paths, its states, its GPU table and
its errors, each rule naming the reference it follows (or saying where Google's documentation is silent)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from google.cloud.aiplatform_v1.types import (
    HyperparameterTuningJob,
    Scheduling,
    StudySpec,
    Trial,
)

JobPb = HyperparameterTuningJob.pb()

TrialPb = Trial.pb()
Strategy = Scheduling.pb().Strategy
SpecPb = StudySpec.pb()
ParameterSpecPb = SpecPb.ParameterSpec
TAGS = re.compile(r"^/v1/(?P<package>projects/[^/]+/locations/[^/]+/repositories/[^/]+/packages/[^/]+)/tags$")
JOBS = re.compile(r"^/v1/(?P<parent>projects/[^/]+/locations/[^/]+)/hyperparameterTuningJobs"
                  r"(?:/(?P<id>[^/:]+)(?P<cancel>:cancel)?)?$")
LABEL_CLAUSE = re.compile(r'^labels\.(?P<key>[a-z0-9_-]+)\s*=\s*"(?P<value>[^"]*)"$')
STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
                429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}
POLL_S = 0.05
# Trial.State (aiplatform v1): STATE_UNSPECIFIED, REQUESTED, ACTIVE, STOPPING, SUCCEEDED, INFEASIBLE.
# There is no FAILED and no STOPPED: the stand-in never sets anything else.
TRIAL_STATES = {"REQUESTED", "ACTIVE", "STOPPING", "SUCCEEDED", "INFEASIBLE"}
# Early stopping, as the stand-in assumes it: the docs document StudySpec's stopping specs and the STOPPING trial
# state, but not that a hyperparameter tuning job acts on them (using-hyperparameter-tuning: the console's "Enable
# early stopping toggle ... has no effect"), what a stopped trial's container receives, nor the state it ends in.
# Assumed here: STOPPING, SIGTERM, SIGKILL after this grace (docs silent; a Compute Engine preemption gives 30 s),
# then SUCCEEDED with what it reported.
STOP_GRACE_S = 10.0
# use-spot-vms: "When Spot VMs are preempted, the serverless training job fails with a STOCKOUT error and Compute
# Engine tries to restart the job up to six times."
SPOT_RESTARTS = 6
# schedule-jobs-dws: flex-start needs "L4, A100, H100, H200, or B200 GPUs" and "a maximum timeout of 7 days or less".
# How the service refuses a job that breaks this is not documented: a 400.
FLEX_START_GPUS = {"NVIDIA_L4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB",
                   "NVIDIA_H200_141GB", "NVIDIA_B200"}
FLEX_START_MAX_TIMEOUT_S = 7 * 24 * 3600


# Vertex AI training's GPU compatibility table ("Configure compute resources for ... serverless training",
# docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/training/configure-compute, read
# 2026-12-05): accelerator -> machine type -> the accelerator count it takes. Its N1 rows are written here as
# per-GPU-count limits (the most vCPUs and GB an N1 machine may have with that many), read from Compute Engine's
# "GPU machine types" (docs.cloud.google.com/compute/docs/gpus) where Vertex AI's table agrees and from Vertex AI's
# where they differ, as Vertex AI runs the job: one T4 on no 32-vCPU N1 machine (Compute Engine: up to 48), four
# P100s "only ... up to 64 virtual CPUS and up to 208 GB of memory in all regions and zones".
FIXED_GPUS = {
    "NVIDIA_TESLA_A100": {"a2-highgpu-1g": 1, "a2-highgpu-2g": 2, "a2-highgpu-4g": 4, "a2-highgpu-8g": 8,
                          "a2-megagpu-16g": 16},
    "NVIDIA_A100_80GB": {"a2-ultragpu-1g": 1, "a2-ultragpu-2g": 2, "a2-ultragpu-4g": 4, "a2-ultragpu-8g": 8},
    "NVIDIA_L4": {"g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1, "g2-standard-16": 1,
                  "g2-standard-24": 2, "g2-standard-32": 1, "g2-standard-48": 4, "g2-standard-96": 8},
    "NVIDIA_H100_80GB": {"a3-highgpu-1g": 1, "a3-highgpu-2g": 2, "a3-highgpu-4g": 4, "a3-highgpu-8g": 8},
    "NVIDIA_H100_MEGA_80GB": {"a3-megagpu-8g": 8},
    "NVIDIA_H200_141GB": {"a3-ultragpu-8g": 8},
    "NVIDIA_B200": {"a4-highgpu-8g": 8},
    # "Requires obtaining capacity using shared reservations": what the service answers a job without one is not
    # documented; the stand-in takes it as the table does
    "NVIDIA_GB200": {"a4x-highgpu-4g": 4},
    "NVIDIA_RTX_PRO_6000": {"g4-standard-48": 1, "g4-standard-96": 2, "g4-standard-192": 4, "g4-standard-384": 8},
}
N1_GPUS = {  # accelerator -> {count: (most vCPUs, most GB) of an n1 machine with that many}
    "NVIDIA_TESLA_T4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
    "NVIDIA_TESLA_P100": {1: (16, 104), 2: (32, 208), 4: (64, 208)},
}
N1_MEMORY = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}  # GB per vCPU (Compute Engine's N1 table)
# The page's machine types "you must specify one of": its N1 ones (no n1-standard-2, no n1-highcpu-2/4/8)
N1_TYPES = {*(f"n1-standard-{n}" for n in (4, 8, 16, 32, 64, 96)),
            *(f"n1-highmem-{n}" for n in (2, 4, 8, 16, 32, 64, 96)), *(f"n1-highcpu-{n}" for n in (16, 32, 64, 96))}
# Google Cloud release notes, 2026-09-22: "As of September 15, 2026, NVIDIA P100 ... GPUs have reached end of
# support (EOS) and are shut down. You can no longer create ... resources that use NVIDIA P100 GPUs"; T4 and P4
# "will reach end of support (EOS) on August 1, 2027". The K80 is past it (AcceleratorType: "has reached end of
# support"). The service's message for them is not documented.
SHUT_DOWN = {"NVIDIA_TESLA_K80": dt.date.min, "NVIDIA_TESLA_P100": dt.date(2026, 9, 15),
             "NVIDIA_TESLA_T4": dt.date(2027, 8, 1), "NVIDIA_TESLA_P4": dt.date(2027, 8, 1)}


def machine_problem(machine: str, accelerator: str, count: int, today: dt.date | None = None) -> str | None:
    """Why Vertex AI training refuses this machine and accelerator pair on ``today`` (default: the real date), or
    None when it runs it. Messages follow the 400s the service returns (seen in public issues: 'Accelerator
    "NVIDIA_TESLA_K80" is not supported for machine type "n1-standard-4"'); the others are the stand-in's."""
    if machine.startswith("n1-") and machine not in N1_TYPES:
        return f'Machine type "{machine}" is not supported.'
    if accelerator == "ACCELERATOR_TYPE_UNSPECIFIED":
        return None
    if (today or dt.date.today()) >= SHUT_DOWN.get(accelerator, dt.date.max):
        return f'Accelerator "{accelerator}" has reached end of support.'
    unsupported = f'Accelerator "{accelerator}" is not supported for machine type "{machine}".'
    if accelerator in N1_GPUS and machine.startswith("n1-"):
        _, family, vcpus = machine.split("-")
        limit = N1_GPUS[accelerator].get(count)
        if limit is None or int(vcpus) > limit[0] or int(vcpus) * N1_MEMORY[family] > limit[1]:
            return (f'The accelerator count "{count}" is not allowed with accelerator "{accelerator}" and machine '
                    f'type "{machine}".')
        return None
    fits = FIXED_GPUS.get(accelerator, {})  # TPUs fit no machine here
    if machine not in fits:
        return unsupported
    if fits[machine] != count:
        return (f'The accelerator count "{count}" is not allowed. The allowed numbers of accelerator '
                f'"{accelerator}" to use with machine type "{machine}" are: [{fits[machine]}].')
    return None


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list | None = None, oauth: str = ""):
        super().__init__(message)
        self.status, self.message, self.details, self.oauth = status, message, details or [], oauth

    def body(self) -> dict:
        if self.oauth:  # an OAuth2 error body: {"error": CODE, "error_description": TEXT}
            return {"error": self.oauth, "error_description": self.message}
        return {"error": {"code": self.status, "message": self.message,
                          "status": STATUS_NAMES.get(self.status, "UNKNOWN"), "details": self.details}}


@dataclass
class Fault:
    """The next ``times`` requests matching ``method`` (and ``path``, a regex) fail: with an HTTP error
    ``status``, or, with ``drop``, a connection closed without an answer; with ``after``, the connection
    is dropped once the request has been carried out, as when an answer is lost on the way back; with
    ``stall``, the answer comes that many seconds late (a connection gone quiet)."""

    method: str
    status: int = 503
    message: str = "The service is currently unavailable."
    details: list = field(default_factory=list)
    path: str = ""
    times: int = 1
    drop: bool = False
    after: bool = False
    stall: float = 0.0


def task_problems(pools) -> list[str]:
    """WorkerPoolSpec's oneof ``task``: a container_spec (image_uri Required) or a python_package_spec
    (executor_image_uri, package_uris and python_module Required)."""
    if not pools:
        return []
    if pools[0].HasField("python_package_spec"):
        package = pools[0].python_package_spec
        return [f"python_package_spec.{name}" for name in ("executor_image_uri", "package_uris", "python_module")
                if not getattr(package, name)]
    return [] if pools[0].container_spec.image_uri else ["container_spec.image_uri"]


def valid_label(text: str) -> bool:
    """A label key or value as HyperparameterTuningJob.labels allows it (the empty string included)."""
    return len(text) <= 64 and all(c in "_-" or c.isdigit() or (c.isalpha() and c == c.lower()) for c in text)
