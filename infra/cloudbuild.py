"""The trainer image built by Cloud Build from inside the Pulumi program: no Docker engine where ``pulumi up`` runs.

``CloudBuildImage`` is a Pulumi dynamic resource. Its provider packs the build context (the files a ``docker build``
of it would send, ``.dockerignore`` honoured) into a reproducible tarball, uploads it under the bucket's
``staging/cloudbuild/``, asks Cloud Build (REST v1, ``projects.locations.builds.create``) to run ``docker build`` on it
as the stack's builder account and push the tag, follows the long-running operation to its end, and returns the
pushed image's digest from ``results.images``. It builds again only when the build's inputs change (the context's
digest, the Dockerfile, the tag, the build arguments, the labels): its own code or the credentials do not count.
Deleting it deletes nothing: the repository's cleanup policies own the images.

The provider's methods run in the Pulumi engine's provider host, a process of their own; the provider is pickled
into the stack's state, so it holds no client and no credentials (they are made inside each method).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import re
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

TYPE = "pulumi-python:dynamic/sweeps:CloudBuildImage"  # the token Pulumi gives CloudBuildImage
SOURCE_PREFIX = "staging/cloudbuild/"  # under the bucket's staging/, which its lifecycle rule empties
DOCKER_BUILDER = "gcr.io/cloud-builders/docker"  # Google's docker build step ("Build container images" guide)
# Build.timeout: "Default time is 60 minutes" (Cloud Build REST v1, Build); said explicitly here.
BUILD_TIMEOUT_S = 3600
# How long to follow a build: its own timeout, plus as long again queued (Build.queueTtl's default is 3600 s).
WAIT_S = 2 * BUILD_TIMEOUT_S
REBUILD_KEYS = ("context_digest", "dockerfile", "tag", "build_args", "labels")
OUTPUT_KEYS = ("digest", "build_id", "log_url")
# Build.Status values of a build that ended without its images (Cloud Build REST v1, Build.Status).
ENDED_BADLY = frozenset({"FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"})


class ImageBuildError(Exception):
    """The image could not be built; the message is one line naming the build, its status and its log."""


# --- the build context ---------------------------------------------------------------------------------------
# .dockerignore as Docker reads it (docs.docker.com/build/concepts/context/#dockerignore-files): one pattern a line,
# `#` comments, paths cleaned (Go's filepath.Clean) relative to the context root, `*` and `?` within one path
# element, `**` across any number of them, `!` re-includes; the last pattern matching a path or one of its parents
# decides. An excluded directory is not entered unless an exception pattern names a path under it (what Docker's
# moby/patternmatcher does too).


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            out, i = out + pattern[i:end + 1], end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out, i = out + re.escape(pattern[i + 1]), i + 2
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _ignore_rules(root: Path) -> list[tuple[str, bool, re.Pattern[str]]]:
    """(pattern, is an exception, regex) for each line of ``root/.dockerignore`` (none when there is no file)."""
    path = root / ".dockerignore"
    rules = []
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        cleaned = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        if cleaned and cleaned != ".":
            rules.append((cleaned, exception, _pattern_regex(cleaned)))
    return rules


def _excluded(path: str, rules: list[tuple[str, bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for _, exception, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


def context_files(root: Path, dockerfile: str) -> list[str]:
    """The files (POSIX paths under ``root``, sorted) that ``docker build -f <dockerfile> <root>`` sends; the
    Dockerfile always goes, as Docker sends it whatever .dockerignore says."""
    rules = _ignore_rules(root)
    exceptions = [pattern for pattern, exception, _ in rules if exception]
    found = {dockerfile}
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        dirs[:] = [d for d in dirs if not _excluded(prefix + d, rules)
                   or any(f"{pattern}/".startswith(f"{prefix}{d}/") for pattern in exceptions)]
        found.update(prefix + name for name in files if not _excluded(prefix + name, rules))
    return sorted(found)


def context_archive(root: Path, dockerfile: str) -> bytes:
    """The build context as an uncompressed tar: the same bytes for the same files whatever their times, owners
    or the order the file system lists them in."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in context_files(root, dockerfile):
            path = root / name
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def context_digest(root: Path, dockerfile: str) -> str:
    """``sha256:<hex>`` of :func:`context_archive`: what decides whether the image is built again."""
    return "sha256:" + hashlib.sha256(context_archive(root, dockerfile)).hexdigest()


# --- the provider ----------------------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    """Raise ImageBuildError with ``message`` on one line. The provider host (``python -m pulumi.dynamic``) hands
    the engine ``traceback.format_exc()`` (pulumi/dynamic/__main__.py), which prints no frames in a process whose
    ``sys.tracebacklimit`` is 0: there, and only there (it serves nothing but provider calls), it is set so."""
    if getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None) == "pulumi.dynamic.__main__":
        sys.tracebacklimit = 0
    raise ImageBuildError(" ".join(message.split())) from None


class CloudBuildProvider(ResourceProvider):
    """Create, diff and update of a CloudBuildImage. ``api_endpoint`` and ``credentials`` are for a stand-in (None:
    Google's endpoint and application default credentials)."""

    def __init__(self, api_endpoint: str | None = None, credentials: Any = None) -> None:
        self.api_endpoint, self.credentials = api_endpoint, credentials

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Changed when a build input changed (an empty one and an absent one are the same); the provider's own
        pickled code (``__provider``), the checkout's path and the builder account do not count."""
        changed = [key for key in REBUILD_KEYS if (olds.get(key) or None) != (news.get(key) or None)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._build(props)
        return CreateResult(id_=outs["build_id"], outs={**props, **outs})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **self._build(news)})

    def _build(self, props: Mapping[str, Any]) -> dict[str, str]:
        """Upload the context, run the build, follow it to its end; the outputs (digest, build id, log URL)."""
        from google.api_core import exceptions
        from google.auth.exceptions import GoogleAuthError
        from requests import RequestException

        tag = props["tag"]
        try:
            generation, source = self._upload(props)
            return self._run(props, source, generation)
        except GoogleAuthError as exc:
            _fail(f"building {tag} on Cloud Build needs Google Cloud credentials ({exc}): run `gcloud auth "
                  "application-default login`, then pulumi up again")
        except exceptions.GoogleAPICallError as exc:
            # Over REST the message starts with the request ("POST https://...: "); the service's words follow.
            said = re.sub(r"^[A-Z]+ \S+: ", "", exc.message or "")
            _fail(f"building {tag} on Cloud Build: {exc.code} {said}: check that the Cloud Build API is enabled and "
                  "that you may run builds as the builder account (Cloud Build Editor, and Service Account User on "
                  "that account), then pulumi up again")
        except RequestException as exc:  # both clients speak HTTP through requests
            _fail(f"building {tag} on Cloud Build: the connection failed ({exc}): check the network, then pulumi up "
                  "again")

    def _upload(self, props: Mapping[str, Any]) -> tuple[int, str]:
        """The context as ``staging/cloudbuild/<digest>.tar.gz`` in the bucket; (its generation, its name)."""
        from google.cloud import storage

        archive = context_archive(Path(props["context"]), props["dockerfile"])
        digest = "sha256:" + hashlib.sha256(archive).hexdigest()
        if digest != props["context_digest"]:
            _fail(f"the build context {props['context']} changed while pulumi up ran: run pulumi up again")
        name = f"{SOURCE_PREFIX}{digest.removeprefix('sha256:')}.tar.gz"
        blob = storage.Client(project=props["project"], credentials=self.credentials).bucket(props["bucket"]).blob(name)
        blob.upload_from_string(gzip.compress(archive, mtime=0), content_type="application/gzip")
        return blob.generation, name

    def _run(self, props: Mapping[str, Any], source: str, generation: int) -> dict[str, str]:
        from google.api_core import exceptions
        from google.api_core.client_options import ClientOptions
        from google.cloud.devtools import cloudbuild_v1 as cb

        tag = props["tag"]
        client = cb.CloudBuildClient(credentials=self.credentials, transport="rest",
                                     client_options=ClientOptions(api_endpoint=self.api_endpoint))
        build = cb.Build(
            source=cb.Source(storage_source=cb.StorageSource(bucket=props["bucket"], object_=source,
                                                             generation=generation)),
            steps=[cb.BuildStep(name=DOCKER_BUILDER, args=docker_args(props))],
            images=[tag],  # pushed by Cloud Build, which records each digest in results.images
            service_account=props["service_account"],
            # A build with its own service account logs to Cloud Logging only or to a bucket of its own
            # (Cloud Build, "Configure user-specified service accounts").
            options=cb.BuildOptions(logging=cb.BuildOptions.LoggingMode.CLOUD_LOGGING_ONLY),
            timeout={"seconds": BUILD_TIMEOUT_S})
        # Only `parent`: with projectId as well the client takes the global path (projects/{projectId}/builds).
        operation = client.create_build(request={
            "parent": f"projects/{props['project']}/locations/{props['region']}", "build": build})
        try:
            done = operation.result(timeout=WAIT_S)
        except TimeoutError:
            ran = operation.metadata.build
            _fail(f"Cloud Build build {ran.id} of {tag} is still {ran.status.name} after {WAIT_S} s: follow it at "
                  f"{ran.log_url}, then pulumi up again")
        except exceptions.GoogleAPICallError as exc:  # the operation's error, or a failed poll
            ran = operation.metadata.build
            if ran.status.name not in ENDED_BADLY:
                raise
            failure = ran.failure_info
            why = f" ({failure.type_.name}: {failure.detail})" if failure.detail else ""
            _fail(f"Cloud Build build {ran.id} of {tag} ended {ran.status.name}{why}: its log is at {ran.log_url} "
                  f"({getattr(exc, 'message', exc)}); fix what it says, then pulumi up again")
        digests = [image.digest for image in done.results.images if image.name == tag]
        if not digests:
            _fail(f"Cloud Build build {done.id} of {tag} ended {done.status.name} but reported no digest for "
                  f"{tag}: its log is at {done.log_url}")
        return {"digest": digests[0], "build_id": done.id, "log_url": done.log_url}


def docker_args(props: Mapping[str, Any]) -> list[str]:
    """The docker builder's arguments: ``build -f DOCKERFILE [--build-arg K=V]... [--label K=V]... -t TAG .``"""
    args = ["build", "-f", props["dockerfile"]]
    for flag, values in (("--build-arg", props.get("build_args")), ("--label", props.get("labels"))):
        for key, value in sorted((values or {}).items()):
            args += [flag, f"{key}={value}"]
    return [*args, "-t", props["tag"], "."]


class CloudBuildImage(Resource, module="sweeps", name="CloudBuildImage"):
    """``tag`` built from ``context`` (``dockerfile`` under it) on Cloud Build and pushed; ``digest`` is the pushed
    image's. Inputs: project, region, bucket (for the context), service_account (``projects/P/serviceAccounts/E``
    the build runs as), tag, context (an absolute path), dockerfile, build_args, labels, context_digest."""

    digest: pulumi.Output[str]
    build_id: pulumi.Output[str]
    log_url: pulumi.Output[str]

    def __init__(self, name: str, props: Mapping[str, pulumi.Input[Any]],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CloudBuildProvider(), name, {**dict.fromkeys(OUTPUT_KEYS), **props}, opts)
