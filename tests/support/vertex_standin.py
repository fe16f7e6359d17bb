"""A stand-in for Vertex AI's JobService over REST that really runs each trial, on this machine.

It answers exactly the calls the aiplatform SDK's REST transport makes for hyperparameter tuning
jobs (see google/cloud/aiplatform_v1/services/job_service/transports/rest_base.py):

    POST /v1/projects/P/locations/L/hyperparameterTuningJobs            create (body: the job)
    GET  /v1/projects/P/locations/L/hyperparameterTuningJobs/ID         get
    GET  /v1/projects/P/locations/L/hyperparameterTuningJobs?filter=... list (labels.KEY="VALUE" [AND ...])
    POST /v1/projects/P/locations/L/hyperparameterTuningJobs/ID:cancel  cancel

A created job runs in a thread as Vertex would: it samples parameters from the study spec (random,
conditional parameters only under their parents' listed values), runs the container's entrypoint
locally with the container args plus ``--<id>=<value>`` (discrete values as floats), or, for a
``pythonPackageSpec``, installs its packages into a prebuilt container's stand-in (prebuilt.py) and runs
``python -m pythonModule`` there with its args and the same flags, in the trial environment
(AIP_MODEL_DIR=<base>/<trial>/model/, CLOUD_ML_TRIAL_ID, CLOUD_ML_HP_METRIC_FILE, and the spec's env),
reads the hypertune file into measurements, and ends a trial without the metric INFEASIBLE. Trials are
served in shuffled order, as Vertex gives no order. ``fail_next`` scripts errors and dropped connections;
``preempt`` reclaims a Spot trial's VM.

Each rule below names the reference it follows; where Google's documentation is silent the comment
says so and what the stand-in does instead. It also serves ``POST /token``, Google's OAuth2 token
endpoint, for credentials whose login has expired (``expire_logins``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from google.cloud.aiplatform_v1.types import (
    AcceleratorType,
    HyperparameterTuningJob,
    JobState,
    Scheduling,
    StudySpec,
    Trial,
)
from google.protobuf import json_format

from jobs.vertex.containers import PREBUILT_IMAGE
from tests.support import prebuilt
from tests.support.standin_server import StandInServer

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


@dataclass
class _Running:
    trial: object  # the Trial message inside the job
    process: subprocess.Popen
    metric_file: Path
    started: float  # time.monotonic()
    argv: list[str]  # what the container runs, in ``env``, from ``folder``: run again after a Spot preemption
    env: dict[str, str]
    folder: Path
    stop_sent: float = 0.0
    timed_out: bool = False
    stockout: bool = False  # preempted once more than Spot's restarts


class VertexStandIn(StandInServer):
    """Start with ``with VertexStandIn(workdir) as vertex:``; point the SDK at ``vertex.url``."""

    def __init__(self, workdir: Path, entrypoint: list[str] | None = None, seed: int = 0,
                 today: dt.date | None = None):
        self.workdir = workdir
        self.today = today  # the date GPUs' ends of support are compared with; None: the real one
        self.entrypoint = entrypoint or [sys.executable, "-m", "trainer"]
        self.random = random.Random(seed)  # parameters
        self.order = random.Random(seed + 1)  # the order trials are served in
        self.jobs: dict[str, object] = {}  # resource name -> HyperparameterTuningJob message (raw protobuf)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered; 0 when dropped)
        self.faults: list[Fault] = []
        self.tags: dict[tuple[str, str], str] = {}  # Artifact Registry: (package, tag id) -> version
        self.containers: dict[str, tuple[Path | None, Path]] = {}  # job -> its prebuilt container's python, log
        self.lock = threading.RLock()
        self._cancelled: set[str] = set()
        # A quota metric that runs out once a job starts: its jobs fail with error code 8 and Vertex's
        # message, as seen in public reports (vertex-ai-samples#700); set by a test.
        self.exhausted_quota = ""
        # Trial id -> how many times its Spot VM is preempted (a job with scheduling.strategy SPOT only); set by a
        # test. ``restarts`` counts the restarts that followed, by trial id.
        self.preempt: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listen()

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        super().__exit__(*exc)
        for thread in self._threads:
            thread.join(timeout=10)

    def fail_next(self, fault: Fault) -> None:
        self.faults.append(fault)

    def create_answers(self) -> list[int]:
        """The status answered to each create request, in order (0 when the connection was dropped)."""
        return [status for method, path, status in self.requests
                if method == "POST" and path.endswith("hyperparameterTuningJobs")]

    def creates(self) -> int:
        """Create requests that were carried out."""
        return sum(1 for method, path, status in self.requests if method == "POST" and status == 200
                   and path.endswith("hyperparameterTuningJobs"))

    def wait_until(self, predicate, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("the stand-in did not get there in time")
            time.sleep(POLL_S)

    # --- the REST surface -------------------------------------------------------------------------

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict] | None:
        """The answer to one request; None to drop the connection without one."""
        url = urlsplit(target)
        fault = self._fault(method, url.path)
        if fault and fault.stall:
            time.sleep(fault.stall)
            fault = None
        if fault and not fault.after:
            self.requests.append((method, url.path, 0 if fault.drop else fault.status))
            return None if fault.drop else (fault.status, ApiError(fault.status, fault.message, fault.details).body())
        try:
            answer = 200, self._route(method, url.path, parse_qs(url.query), body)
        except ApiError as exc:
            answer = exc.status, exc.body()
        self.requests.append((method, url.path, answer[0]))
        return None if fault else answer

    def _route(self, method: str, path: str, query: dict, body: bytes) -> dict:
        if method == "POST" and path == "/token":
            # Google's OAuth2 token endpoint for a refresh token that has expired or been revoked
            # (developers.google.com/identity/protocols/oauth2: "invalid_grant").
            raise ApiError(400, "Token has been expired or revoked.", oauth="invalid_grant")
        tags = TAGS.match(path)
        if method == "POST" and tags:
            return self._tag(tags["package"], query, body)
        match = JOBS.match(path)
        if not match:
            raise ApiError(404, f"no such method: {method} {path}")
        parent, job_id, cancel = match["parent"], match["id"], match["cancel"]
        if method == "POST" and job_id is None:
            return self._create(parent, body)
        if method == "GET" and job_id is None:
            return self._list(parent, query)
        name = f"{parent}/hyperparameterTuningJobs/{job_id}"
        if name not in self.jobs:
            raise ApiError(404, f"HyperparameterTuningJob {name} not found")
        if method == "GET" and not cancel:
            return self._json(self.jobs[name])
        if method == "POST" and cancel:
            with self.lock:
                self._cancelled.add(name)
                if self.jobs[name].state not in (JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED):
                    self.jobs[name].state = JobState.JOB_STATE_CANCELLING
            return {}
        raise ApiError(404, f"no such method: {method} {path}")

    def _json(self, job) -> dict:
        with self.lock:
            shown = JobPb()
            shown.CopyFrom(job)
        trials = list(shown.trials)
        self.order.shuffle(trials)  # the API promises no order of HyperparameterTuningJob.trials
        del shown.trials[:]
        shown.trials.extend(trials)
        return json_format.MessageToDict(shown)

    def _create(self, parent: str, body: bytes) -> dict:
        job = JobPb()
        try:
            json_format.Parse(body, job, ignore_unknown_fields=False)
        except json_format.ParseError as exc:  # the REST API refuses unknown fields: "Invalid JSON payload"
            raise ApiError(400, f"Invalid JSON payload received. {exc}") from None
        # Fields the aiplatform v1 reference marks Required on HyperparameterTuningJob, StudySpec and
        # CustomJobSpec; the single worker pool and the base output directory are what a tuning job of one
        # replica needs (the reference does not mark them required: these are our jobs' shape).
        problems = [what for what, bad in (
            ("display_name", not job.display_name),
            ("study_spec.metrics", not job.study_spec.metrics),
            ("study_spec.parameters", not job.study_spec.parameters),
            ("max_trial_count", job.max_trial_count <= 0),
            ("parallel_trial_count", job.parallel_trial_count <= 0),
            ("trial_job_spec.worker_pool_specs", len(job.trial_job_spec.worker_pool_specs) != 1),
            ("base_output_directory", not job.trial_job_spec.base_output_directory.output_uri_prefix),
        ) if bad]
        problems += _task_problems(job.trial_job_spec.worker_pool_specs)
        if problems:
            raise ApiError(400, "required: " + ", ".join(problems))
        # HyperparameterTuningJob.labels: "Label keys and values can be no longer than 64 characters (Unicode
        # codepoints), can only contain lowercase letters, numeric characters, underscores and dashes.
        # International characters are allowed." The answer to a label that breaks this is not documented: a 400.
        if bad := [f"{k}={v}" for k, v in job.labels.items() if not (_label(k) and k and _label(v))]:
            raise ApiError(400, f"invalid labels: {', '.join(bad)}")
        package = job.trial_job_spec.worker_pool_specs[0].python_package_spec
        # PythonPackageSpec.executorImageUri: "You must use an image from this list" (the prebuilt training
        # containers); the service's answer to any other is not documented: the stand-in refuses it (400).
        if package.executor_image_uri and not PREBUILT_IMAGE.fullmatch(package.executor_image_uri):
            raise ApiError(400, f"executor_image_uri {package.executor_image_uri} is not a prebuilt training container")
        # packageUris: "The Google Cloud Storage location ... The maximum number of package URIs is 100."
        if len(package.package_uris) > 100 or any(not uri.startswith("gs://") for uri in package.package_uris):
            raise ApiError(400, f"package_uris must be at most 100 gs:// URIs: {list(package.package_uris)}")
        machine = job.trial_job_spec.worker_pool_specs[0].machine_spec
        # MachineSpec: "accelerator_type ... accelerator_count"; an unsupported pair is INVALID_ARGUMENT.
        why = machine_problem(machine.machine_type, AcceleratorType(machine.accelerator_type).name,
                              machine.accelerator_count, self.today)
        if why:
            raise ApiError(400, why)
        scheduling = job.trial_job_spec.scheduling
        if scheduling.strategy == Strategy.FLEX_START and (
                AcceleratorType(machine.accelerator_type).name not in FLEX_START_GPUS
                or scheduling.timeout.ToTimedelta().total_seconds() > FLEX_START_MAX_TIMEOUT_S):
            raise ApiError(400, "FLEX_START needs L4, A100, H100, H200 or B200 GPUs and a timeout of at most 7 days")
        with self.lock:
            job.name = f"{parent}/hyperparameterTuningJobs/{1000 + len(self.jobs)}"
            job.state = JobState.JOB_STATE_PENDING
            job.create_time.GetCurrentTime()
            self.jobs[job.name] = job
        thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self._threads.append(thread)
        thread.start()
        return self._json(job)

    def _tag(self, package: str, query: dict, body: bytes) -> dict:
        """Artifact Registry v1 projects.locations.repositories.packages.tags.create: tagId in the query, the
        Tag (name, version) in the body; an existing tag is ALREADY_EXISTS (409)."""
        tag_id, tag = query.get("tagId", [""])[0], json.loads(body or b"{}")
        if not tag_id or tag.get("name") != f"{package}/tags/{tag_id}" or \
                not str(tag.get("version", "")).startswith(f"{package}/versions/sha256:"):
            raise ApiError(400, f"invalid tag {tag_id!r} for {package}: {tag}")
        with self.lock:
            if (package, tag_id) in self.tags:
                raise ApiError(409, f"tag {tag_id} already exists")
            self.tags[(package, tag_id)] = tag["version"]
        return tag

    def _list(self, parent: str, query: dict) -> dict:
        """ListHyperparameterTuningJobs: the reference's filter grammar, reduced to the
        ``labels.KEY="VALUE"`` clauses joined by AND that our client sends; anything else is a 400."""
        wanted = {}
        text = query.get("filter", [""])[0]
        for clause in filter(None, (c.strip() for c in re.split(r"\s+AND\s+", text))):
            match = LABEL_CLAUSE.match(clause)
            if not match:
                raise ApiError(400, f"unsupported filter clause {clause!r}")
            wanted[match["key"]] = match["value"]
        found = [self._json(job) for name, job in list(self.jobs.items()) if name.startswith(parent + "/")
                 and all(job.labels.get(k) == v for k, v in wanted.items())]
        return {"hyperparameterTuningJobs": found} if found else {}

    # --- running a job ----------------------------------------------------------------------------

    def _run(self, job) -> None:
        with self.lock:
            job.state = JobState.JOB_STATE_RUNNING
            job.start_time.GetCurrentTime()
            if self.exhausted_quota:
                job.state = JobState.JOB_STATE_FAILED
                job.error.code = 8  # google.rpc.Code RESOURCE_EXHAUSTED
                job.error.message = f"The following quota metrics exceed quota limits: {self.exhausted_quota}"
                job.end_time.GetCurrentTime()
                return
        # maxFailedTrialCount: "If set to 0, Vertex AI decides how many Trials must fail before the whole job
        # fails". What it decides is documented in part (using-hyperparameter-tuning, "Handle failed trials"): "If
        # the first trial of your job fails, Agent Platform ends the job immediately"; after a first success, the
        # job may end when failures have "grown too high", with no threshold given: the stand-in applies none, and
        # lets trials already running end (what the service does with them is not documented).
        failure_limit = job.max_failed_trial_count
        first_failed = False
        timeout = job.trial_job_spec.scheduling.timeout.ToTimedelta().total_seconds() or None
        running: list[_Running] = []
        started = failed = 0
        package = job.trial_job_spec.worker_pool_specs[0].python_package_spec
        if package.package_uris:  # the prebuilt container, once per job (tests/support/prebuilt.py)
            self.containers[job.name] = prebuilt.install(list(package.package_uris),
                                                         self.workdir / job.name.rsplit("/", 1)[1] / "container")
        while True:
            cancelled = job.name in self._cancelled or self._stopping.is_set()
            limit_hit = failed >= failure_limit if failure_limit else first_failed
            while not cancelled and not limit_hit and started < job.max_trial_count \
                    and len(running) < job.parallel_trial_count:
                started += 1
                running.append(self._start_trial(job, str(started)))
            if not running:
                break
            time.sleep(POLL_S)
            for run in list(running):
                with self.lock:  # Trial.state REQUESTED: "Indicates that a specific Trial has been requested"
                    if run.trial.state == TrialPb.State.REQUESTED:
                        run.trial.state = TrialPb.State.ACTIVE
                if cancelled and run.process.poll() is None:
                    os.killpg(run.process.pid, signal.SIGKILL)
                    run.process.wait()
                if not cancelled:
                    self._preempt_if_asked(job, run)
                if timeout and run.process.poll() is None and time.monotonic() - run.started > timeout:
                    # Scheduling.timeout: "The maximum job running time". What the trial then shows is not
                    # documented; the stand-in kills it and, with no final measurement, it is INFEASIBLE.
                    os.killpg(run.process.pid, signal.SIGKILL)
                    run.process.wait()
                    run.timed_out = True
                code = run.process.poll()
                self._measure(job, run, final=code is not None)
                if code is None:
                    self._stop_early_if_told(job, run)
                else:
                    running.remove(run)
                    ended_failed = self._finish(job, run, code, cancelled)
                    failed += ended_failed
                    first_failed = first_failed or (run.trial.id == "1" and bool(ended_failed))
        with self.lock:
            job.end_time.GetCurrentTime()
            succeeded = any(t.state == TrialPb.State.SUCCEEDED for t in job.trials)
            if job.name in self._cancelled:
                job.state = JobState.JOB_STATE_CANCELLED
                job.error.code, job.error.message = 1, "CANCELED"
            elif succeeded and not limit_hit:
                job.state = JobState.JOB_STATE_SUCCEEDED
            else:
                job.state = JobState.JOB_STATE_FAILED
                job.error.code, job.error.message = 9, f"{failed} trials failed"
        assert {TrialPb.State.Name(t.state) for t in job.trials} <= TRIAL_STATES

    def _start_trial(self, job, trial_id: str) -> _Running:
        pool = job.trial_job_spec.worker_pool_specs[0]
        base = job.trial_job_spec.base_output_directory.output_uri_prefix.rstrip("/")
        values = self._sample(job.study_spec.parameters)
        folder = self.workdir / job.name.rsplit("/", 1)[1] / trial_id
        folder.mkdir(parents=True, exist_ok=True)
        metric_file = folder / "hypertune.json"
        package = pool.python_package_spec
        # ContainerSpec.env: "Environment variables to be passed to the container."; PythonPackageSpec.env:
        # "Environment variables to be passed to the python module."
        env = {**os.environ, **{e.name: e.value for e in [*pool.container_spec.env, *package.env]},
               # BaseOutputDirectory for hyperparameter tuning: AIP_MODEL_DIR = <base>/<trial id>/model/
               "AIP_MODEL_DIR": f"{base}/{trial_id}/model/",
               "AIP_CHECKPOINT_DIR": f"{base}/{trial_id}/checkpoints/",
               "AIP_TENSORBOARD_LOG_DIR": f"{base}/{trial_id}/logs/",
               # Not on Google's pages: cloudml-hypertune reads CLOUD_ML_HP_METRIC_FILE (its default is
               # /tmp/hypertune/output.metrics, one container's file) and trainers log CLOUD_ML_TRIAL_ID; the
               # stand-in sets both so trials sharing this machine keep their own files (an assumption).
               "CLOUD_ML_TRIAL_ID": trial_id, "CLOUD_ML_HP_METRIC_FILE": str(metric_file)}
        flags = [f"--{pid}={_flag(v)}" for pid, v in values]
        if not package.package_uris:
            argv = [*self.entrypoint, *pool.container_spec.args, *flags]
        elif (python := self.containers[job.name][0]) is not None:  # pythonModule run with args, then the flags
            argv = [str(python), "-m", package.python_module, *package.args, *flags]
        else:  # the install failed: the trial fails with pip's output in its log
            argv = [sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.exit(1)",
                    str(self.containers[job.name][1])]
        process = _launch(argv, env, folder)
        with self.lock:
            trial = job.trials.add(id=trial_id, state=TrialPb.State.REQUESTED)
            trial.start_time.GetCurrentTime()
            for pid, value in values:
                parameter = trial.parameters.add(parameter_id=pid)
                if isinstance(value, str):
                    parameter.value.string_value = value
                else:
                    parameter.value.number_value = float(value)
        return _Running(trial, process, metric_file, time.monotonic(), argv, env, folder)

    def _preempt_if_asked(self, job, run: _Running) -> None:
        """Reclaim a Spot trial's VM as ``preempt`` asks: up to SPOT_RESTARTS times the trial starts over, then
        it fails (``_finish``). What a restart keeps, what the container receives and the trial's state meanwhile
        are not documented: the stand-in kills the container and runs it again from the start (same parameters,
        its reports so far dropped), the trial staying ACTIVE. A container that has just exited is preempted all the
        same, so that a test's count does not depend on how fast its trainer runs."""
        trial_id = run.trial.id
        restarts = self.restarts.get(trial_id, 0)
        if job.trial_job_spec.scheduling.strategy != Strategy.SPOT or self.preempt.get(trial_id, 0) <= restarts:
            return
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        if restarts == SPOT_RESTARTS:
            run.stockout = True
            return
        self.restarts[trial_id] = restarts + 1
        run.metric_file.unlink(missing_ok=True)
        run.process = _launch(run.argv, run.env, run.folder)

    def _sample(self, specs) -> list[tuple[str, object]]:
        values = []
        for spec in specs:
            value = self._sample_one(spec)
            values.append((spec.parameter_id, value))
            for condition in spec.conditional_parameter_specs:
                which = condition.WhichOneof("parent_value_condition")
                if value in getattr(condition, which).values:
                    values += self._sample([condition.parameter_spec])
        return values

    def _sample_one(self, spec) -> object:
        kind, rng = spec.WhichOneof("parameter_value_spec"), self.random
        if kind == "double_value_spec":
            low, high = spec.double_value_spec.min_value, spec.double_value_spec.max_value
            if spec.scale_type == ParameterSpecPb.ScaleType.UNIT_LOG_SCALE:
                return math.exp(rng.uniform(math.log(low), math.log(high)))
            return rng.uniform(low, high)
        if kind == "integer_value_spec":
            return rng.randint(spec.integer_value_spec.min_value, spec.integer_value_spec.max_value)
        if kind == "discrete_value_spec":
            return float(rng.choice(list(spec.discrete_value_spec.values)))
        return rng.choice(list(spec.categorical_value_spec.values))

    def _measure(self, job, run: _Running, final: bool) -> None:
        """The trial's reports so far as measurements; at the end, the final one by the study's rule."""
        metric = job.study_spec.metrics[0]
        steps = {}
        try:
            lines = run.metric_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:  # Vertex reads only the hypertune file, never the trial's stdout
            try:
                row = json.loads(line)
                steps[int(float(row.get("global_step", 0)))] = float(row[metric.metric_id])
            except (ValueError, KeyError):
                continue
        with self.lock:
            # Trial.measurements: "strictly lexicographically ordered by their induced tuples (steps, ...)"
            del run.trial.measurements[:]
            for step, value in sorted(steps.items()):
                run.trial.measurements.add(step_count=step).metrics.add(metric_id=metric.metric_id, value=value)
            if final and steps:
                if job.study_spec.measurement_selection_type == SpecPb.MeasurementSelectionType.LAST_MEASUREMENT:
                    step = max(steps)
                else:
                    pick = max if metric.goal == SpecPb.MetricSpec.GoalType.MAXIMIZE else min
                    step = pick(steps, key=steps.get)
                run.trial.final_measurement.step_count = step
                run.trial.final_measurement.metrics.add(metric_id=metric.metric_id, value=steps[step])

    def _stop_early_if_told(self, job, run: _Running) -> None:
        """The service's automated stopping, as assumed (STOP_GRACE_S): STOPPING, SIGTERM to the container, SIGKILL
        after a grace."""
        with self.lock:
            if run.trial.state == TrialPb.State.STOPPING:
                if time.monotonic() - run.stop_sent > STOP_GRACE_S:
                    os.killpg(run.process.pid, signal.SIGKILL)
                return
            if run.trial.state != TrialPb.State.ACTIVE or not self._should_stop(job, run.trial):
                return
            # Trial.State STOPPING: "Indicates that the Trial should stop according to the service."
            run.trial.state = TrialPb.State.STOPPING
        run.stop_sent = time.monotonic()
        os.killpg(run.process.pid, signal.SIGTERM)  # what a stopped trial's container receives: docs silent

    def _should_stop(self, job, trial) -> bool:
        """Median rule (StudySpec.MedianAutomatedStoppingSpec): "stops a pending Trial if the Trial's best
        objective_value is strictly below the median 'performance' of all completed Trials reported up to the
        Trial's last measurement. Currently, 'performance' refers to the running average of the objective
        values reported by the Trial in each measurement." The decay-curve rule is a Gaussian process whose
        settings Google does not publish; the stand-in applies the median rule to it as well, so that a
        test sees the service, not the trainer, decide."""
        study = job.study_spec
        if not (study.HasField("median_automated_stopping_spec") or study.HasField("decay_curve_stopping_spec")):
            return False
        if not trial.measurements:
            return False
        maximize = study.metrics[0].goal == SpecPb.MetricSpec.GoalType.MAXIMIZE
        sign = 1.0 if maximize else -1.0
        last_step = trial.measurements[-1].step_count
        best = max(sign * m.metrics[0].value for m in trial.measurements)
        performances = []
        for done in job.trials:
            if done.state != TrialPb.State.SUCCEEDED:
                continue
            values = [sign * m.metrics[0].value for m in done.measurements if m.step_count <= last_step]
            if values:
                performances.append(sum(values) / len(values))
        if not performances:
            return False
        return best < statistics.median(performances)

    def _finish(self, job, run: _Running, code: int, cancelled: bool) -> int:
        """Close the trial; 1 when it failed."""
        with self.lock:
            trial = run.trial
            trial.end_time.GetCurrentTime()
            stopped = trial.state == TrialPb.State.STOPPING
            # Assumed: a trial the service stopped ends SUCCEEDED with the measurements it reported, as Vizier
            # completes a trial (VizierService.CompleteTrial: "the service will auto-select a previously reported
            # measurement as the final-measurement"); no hyperparameter tuning page says so.
            if (code == 0 or stopped) and not run.stockout and trial.HasField("final_measurement"):
                trial.state = TrialPb.State.SUCCEEDED
                return 0
            trial.ClearField("final_measurement")
            # Trial.State INFEASIBLE: "when it's done but missing the final_measurement".
            trial.state = TrialPb.State.INFEASIBLE
            # A Spot trial past its restarts: the docs name only the STOCKOUT error; its wording here, and the
            # trial ending INFEASIBLE (Trial.State has no FAILED), are the stand-in's.
            trial.infeasible_reason = ("job cancelled" if cancelled else
                                       f"STOCKOUT: the Spot VM was preempted after {SPOT_RESTARTS} restarts"
                                       if run.stockout else
                                       "the trial's job ran past its scheduling timeout" if run.timed_out else
                                       f"the trial exited with status {code}" if code else
                                       f"the trial reported no {job.study_spec.metrics[0].metric_id}")
            return 1


def _launch(argv: list[str], env: dict[str, str], folder: Path) -> subprocess.Popen:
    """A trial's container: ``argv`` in its own session, its output appended to ``folder``/log.txt."""
    with open(folder / "log.txt", "ab") as log:
        return subprocess.Popen(argv, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _task_problems(pools) -> list[str]:
    """WorkerPoolSpec's oneof ``task``: a container_spec (image_uri Required) or a python_package_spec
    (executor_image_uri, package_uris and python_module Required)."""
    if not pools:
        return []
    if pools[0].HasField("python_package_spec"):
        package = pools[0].python_package_spec
        return [f"python_package_spec.{name}" for name in ("executor_image_uri", "package_uris", "python_module")
                if not getattr(package, name)]
    return [] if pools[0].container_spec.image_uri else ["container_spec.image_uri"]


def _label(text: str) -> bool:
    """A label key or value as HyperparameterTuningJob.labels allows it (the empty string included)."""
    return len(text) <= 64 and all(c in "_-" or c.isdigit() or (c.isalpha() and c == c.lower()) for c in text)


def _flag(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)
