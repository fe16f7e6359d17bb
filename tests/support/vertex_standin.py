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
import os
import random
import re
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from google.cloud.aiplatform_v1.types import (
    AcceleratorType,
    JobState,
)
from google.protobuf import json_format

from jobs.vertex.containers import PREBUILT_IMAGE
from tests.support import prebuilt
from tests.support.standin_server import StandInServer
from tests.support.vertex_rules import (
    FLEX_START_GPUS,
    FLEX_START_MAX_TIMEOUT_S,
    JOBS,
    LABEL_CLAUSE,
    POLL_S,
    TAGS,
    TRIAL_STATES,
    ApiError,
    Fault,
    JobPb,
    Strategy,
    TrialPb,
    machine_problem,
    task_problems,
    valid_label,
)
from tests.support.vertex_trials import RunningTrial, TrialRunner


class VertexStandIn(TrialRunner, StandInServer):
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
        problems += task_problems(job.trial_job_spec.worker_pool_specs)
        if problems:
            raise ApiError(400, "required: " + ", ".join(problems))
        # HyperparameterTuningJob.labels: "Label keys and values can be no longer than 64 characters (Unicode
        # codepoints), can only contain lowercase letters, numeric characters, underscores and dashes.
        # International characters are allowed." The answer to a label that breaks this is not documented: a 400.
        if bad := [f"{k}={v}" for k, v in job.labels.items() if not (valid_label(k) and k and valid_label(v))]:
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
        running: list[RunningTrial] = []
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
