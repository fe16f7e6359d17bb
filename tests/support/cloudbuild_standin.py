"""A stand-in for Cloud Build's REST API (v1): the two calls google-cloud-build's REST transport makes for a build.

    POST /v1/projects/P/locations/L/builds                create (body: the Build) -> a long-running Operation
    GET  /v1/projects/P/locations/L/operations/ID         operations.get -> the Operation, done when the build is

A build "runs" when its operation is polled ``polls_until_done`` times: the stand-in reads its source archive from
Cloud Storage (the GCS emulator, through STORAGE_EMULATOR_HOST), checks each ``docker build`` step against the files
in it, and "pushes" each image in ``images`` that a step tagged, with a digest computed from the archive and the
step's arguments. ``fail_next_build`` makes the next build's step fail; ``fail_next_create`` refuses the next create.

Each rule names the reference it follows (cloud.google.com/build/docs/api/reference/rest/v1/...); where Google's
documentation is silent the comment says so and what the stand-in does instead.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import tarfile
import threading
import uuid

from google.cloud.devtools.cloudbuild_v1 import Build, BuildOperationMetadata, BuildOptions
from google.protobuf import json_format

from tests.support.standin_server import StandInServer

BuildPb = Build.pb()
Status, FailureType = BuildPb.Status, BuildPb.FailureInfo.FailureType
CREATE = re.compile(r"^/v1/(?P<parent>projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+))/builds$")
OPERATION = re.compile(r"^/v1/(?P<name>projects/[^/]+/locations/[^/]+/operations/[^/]+)$")
# Build.serviceAccount: "Must be of the format `projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}`".
SERVICE_ACCOUNT = re.compile(r"^projects/[^/]+/serviceAccounts/[^/]+$")
DOCKER = "gcr.io/cloud-builders/docker"
# The Any types of Operation.metadata and .response (projects.locations.builds.create: "returns a long-running
# Operation"; BuildOperationMetadata: "build: The build that the operation is tracking").
METADATA_TYPE = f"type.googleapis.com/{BuildOperationMetadata.pb().DESCRIPTOR.full_name}"
BUILD_TYPE = f"type.googleapis.com/{BuildPb.DESCRIPTOR.full_name}"
# The operation's error on a failed build: google.rpc.Code UNKNOWN and this text (as gcloud prints it; the
# reference does not give it).
BUILD_FAILED = {"code": 2, "message": "Build failed; check build logs for details"}
# A failed step's failureInfo.detail, as gcloud prints it (`BUILD FAILURE: ...`); the reference gives no text.
STEP_FAILED = 'Build step failure: build step {index} "{name}" failed: step exited with non-zero status: 1'
HTTP_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict:  # google.rpc.Status as JSON, the REST error body
        return {"error": {"code": self.status, "message": self.message,
                          "status": HTTP_STATUS.get(self.status, "UNKNOWN")}}


class CloudBuildStandIn(StandInServer):
    """Start with ``with CloudBuildStandIn() as cloudbuild:``; point the client at ``cloudbuild.url``."""

    def __init__(self, polls_until_done: int = 1):
        self.polls_until_done = polls_until_done
        self.builds: dict[str, object] = {}  # build id -> Build (raw protobuf), in the order created
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self.pushed: dict[str, str] = {}  # image name -> digest
        self._operations: dict[str, str] = {}  # operation name -> build id
        self._polls: dict[str, int] = {}
        self._fail_build: list[bool] = []
        self._fail_create: list[ApiError] = []
        self.lock = threading.Lock()
        self._listen()

    def fail_next_build(self) -> None:
        """The next build's first step fails (as a Dockerfile whose RUN exits non-zero would)."""
        self._fail_build.append(True)

    def fail_next_create(self, status: int, message: str) -> None:
        self._fail_create.append(ApiError(status, message))

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        path = path.split("?", 1)[0]  # the client adds $alt=json;enum-encoding=int
        try:
            answer = 200, self._route(method, path, body)
        except ApiError as exc:
            answer = exc.status, exc.body()
        self.requests.append((method, path, answer[0]))
        return answer

    def _route(self, method: str, path: str, body: bytes) -> dict:
        create, operation = CREATE.match(path), OPERATION.match(path)
        if method == "POST" and create:
            if self._fail_create:
                raise self._fail_create.pop(0)
            return self._create(create["parent"], create["project"], create["location"], body)
        if method == "GET" and operation:
            return self._poll(operation["name"])
        raise ApiError(404, f"no such method: {method} {path}")

    def _create(self, parent: str, project: str, location: str, body: bytes) -> dict:
        build = BuildPb()
        try:
            json_format.Parse(body, build, ignore_unknown_fields=False)  # enums arrive as numbers or names
        except json_format.ParseError as exc:  # the REST API refuses unknown fields: "Invalid JSON payload"
            raise ApiError(400, f"Invalid JSON payload received. {exc}") from None
        if not build.steps:  # Build.steps: "Required." (the refusal's text is not documented)
            raise ApiError(400, "invalid build: build must have at least one step")
        if build.service_account and not SERVICE_ACCOUNT.match(build.service_account):
            raise ApiError(400, f"invalid build: serviceAccount {build.service_account!r} is not "
                                "projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}")
        logging_ok = build.options.logging in (BuildOptions.LoggingMode.CLOUD_LOGGING_ONLY,
                                               BuildOptions.LoggingMode.NONE)
        own_bucket = build.options.default_logs_bucket_behavior == \
            BuildOptions.DefaultLogsBucketBehavior.REGIONAL_USER_OWNED_BUCKET
        # "Configure user-specified service accounts": logs go to Cloud Logging or a bucket of the user's; the text
        # is the service's refusal as quoted in public reports.
        if build.service_account and not (build.logs_bucket or logging_ok or own_bucket):
            raise ApiError(400, "if 'build.service_account' is specified, the build must either (a) specify "
                                "'build.logs_bucket', (b) use the REGIONAL_USER_OWNED_BUCKET "
                                "build.options.default_logs_bucket_behavior option, or (c) use either "
                                "CLOUD_LOGGING_ONLY / NONE logging options")
        source = build.source.storage_source
        # StorageSource.object: "must be a zipped (`.zip`) or gzipped archive file (`.tar.gz`)".
        if not source.object_.endswith((".zip", ".tar.gz")):
            raise ApiError(400, f"invalid build: source object {source.object_!r} is not a .zip or .tar.gz archive")
        # An unreadable source is refused at create: "INVALID_ARGUMENT: could not resolve source: googleapi:
        # Error 403: ..." in public gcloud logs (the reference is silent).
        self._archive(build)
        build_id = str(uuid.uuid4())  # the reference gives the build's name pattern, not its id's format
        build.id, build.name, build.project_id = build_id, f"{parent}/builds/{build_id}", project
        build.status = Status.QUEUED
        build.create_time.FromDatetime(datetime.datetime.now(datetime.UTC))
        # Build.logUrl: "URL to logs for this build in Google Cloud Console" (the format is undocumented; this is the
        # one public logs show).
        build.log_url = f"https://console.cloud.google.com/cloud-build/builds;region={location}/{build_id}" \
                        f"?project={project}"
        name = f"{parent}/operations/{uuid.uuid4()}"  # operation id format: not documented
        with self.lock:
            self.builds[build_id] = build
            self._operations[name] = build_id
            self._polls[name] = 0
        return self._operation(name)

    def _poll(self, name: str) -> dict:
        with self.lock:
            if name not in self._operations:
                raise ApiError(404, f"operation {name} not found")
            self._polls[name] += 1
            build = self.builds[self._operations[name]]
            if build.status == Status.QUEUED:
                build.status = Status.WORKING
            if self._polls[name] >= self.polls_until_done and build.status == Status.WORKING:
                self._run(build)
        return self._operation(name)

    def _operation(self, name: str) -> dict:
        """The Operation as operations.get answers it: metadata always; once done, the error or the response."""
        build = self.builds[self._operations[name]]
        shown = json_format.MessageToDict(build)
        operation = {"name": name, "metadata": {"@type": METADATA_TYPE, "build": shown}}
        if build.status in (Status.SUCCESS, Status.FAILURE):
            operation["done"] = True
            if build.status == Status.SUCCESS:
                operation["response"] = {"@type": BUILD_TYPE, **shown}
            else:
                operation["error"] = BUILD_FAILED
        return operation

    def _archive(self, build) -> dict[str, bytes]:
        """The files of the build's source archive, read from Cloud Storage at the pinned generation
        (StorageSource.generation: "If the generation is omitted, the latest generation will be used")."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        source = build.source.storage_source
        client = storage.Client(project="cloudbuild-standin", credentials=AnonymousCredentials())
        blob = client.bucket(source.bucket).get_blob(source.object_, generation=source.generation or None)
        if blob is None:
            raise ApiError(400, f"could not resolve source: googleapi: Error 404: No such object: "
                                f"{source.bucket}/{source.object_}, notFound")
        with tarfile.open(fileobj=io.BytesIO(blob.download_as_bytes()), mode="r:gz") as archive:
            return {member.name: archive.extractfile(member).read() for member in archive if member.isfile()}

    def _run(self, build) -> None:
        """Run the build's docker steps over its source; push what they tagged (Build.images: "If any of the images
        fail to be pushed, the build status is marked FAILURE")."""
        files = self._archive(build)
        tagged: dict[str, str] = {}
        for index, step in enumerate(build.steps):
            args = list(step.args)
            dockerfile = args[args.index("-f") + 1] if "-f" in args else "Dockerfile"
            scripted = self._fail_build.pop(0) if self._fail_build else False
            if step.name != DOCKER or args[:1] != ["build"] or dockerfile not in files or scripted:
                detail = STEP_FAILED.format(index=index, name=step.name)
                return self._fail(build, FailureType.USER_BUILD_STEP, detail)
            made = hashlib.sha256(json.dumps([sorted(files.items()), args], default=bytes.hex).encode())
            for position, arg in enumerate(args[:-1]):
                if arg == "-t":
                    tagged[args[position + 1]] = "sha256:" + made.hexdigest()
        missing = [image for image in build.images if image not in tagged]
        if missing:  # FailureType PUSH_IMAGE_NOT_FOUND: "Final image not found."
            return self._fail(build, FailureType.PUSH_IMAGE_NOT_FOUND, f"Final image {missing[0]} not found.")
        for image in build.images:
            # Results.images: BuiltImage{name: "as presented to `docker push`", digest: "Docker Registry 2.0 digest"}
            build.results.images.add(name=image, digest=tagged[image])
            self.pushed[image] = tagged[image]
        build.status = Status.SUCCESS

    @staticmethod
    def _fail(build, failure_type: int, detail: str) -> None:
        # Build.failureInfo: "Contains information about the build when status=FAILURE".
        build.status = Status.FAILURE
        build.failure_info.type_ = failure_type
        build.failure_info.detail = detail
