"""The trainer image built by Cloud Build (sweeps:imageBuilder cloudbuild): the build context, the dynamic provider
against the Cloud Build stand-in and the GCS emulator, the provider host the Pulumi engine runs it in, and the
program under mocks."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import dill
import grpc
import pytest
import yaml
from google.auth.credentials import AnonymousCredentials
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from infra import cloudbuild, policy
from infra.cloudbuild import CloudBuildProvider, ImageBuildError, context_digest, context_files
from infra.config import ConfigError, StackConfig
from infra.project import APIS, CLOUD_BUILD_APIS
from jobs.cloud import storage
from tests.support.cloudbuild_standin import CloudBuildStandIn
from tests.support.helpers import invoke
from tests.support.pulumi_mocks import REPO, deploy, project_outputs, run_main

TAG = "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer:latest"
BUILDER = "projects/acme-ml/serviceAccounts/vision-builder@acme-ml.iam.gserviceaccount.com"
BUILDER_MEMBER = "serviceAccount:vision-builder@acme-ml.iam.gserviceaccount.com"


@pytest.fixture
def standin():
    with CloudBuildStandIn() as running:
        yield running


def provider(standin: CloudBuildStandIn) -> CloudBuildProvider:
    return CloudBuildProvider(api_endpoint=standin.url, credentials=AnonymousCredentials())


def props(bucket: str, context: Path = REPO, **changes) -> dict:
    """A CloudBuildImage's inputs as the program gives them."""
    return {"project": "acme-ml", "region": "europe-west4", "bucket": bucket, "service_account": BUILDER,
            "tag": TAG, "context": str(context), "dockerfile": "trainer/Dockerfile", "build_args": {},
            "labels": {"team": "vision"}, "context_digest": context_digest(context, "trainer/Dockerfile"),
            "__provider": "pickled", **changes}


def small_context(root: Path) -> Path:
    (root / "trainer").mkdir(parents=True)
    (root / "trainer" / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY trainer/ /app/trainer/\n")
    (root / "trainer" / "train.py").write_text("print('hi')\n")
    (root / ".dockerignore").write_text("*\n!trainer/\n")
    return root


# --- the build context ----------------------------------------------------------------------------------------


def test_the_context_is_what_dockerignore_lets_through(tmp_path):
    for name in ("app/main.py", "app/pkg/__pycache__/m.pyc", "app/pkg/m.py", "app/Dockerfile", "secret.env",
                 ".venv/lib/big.py", "docs/keep.md", "docs/drop.md", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / ".dockerignore").write_text(
        "# comment\n*\n!app/\napp/**/__pycache__\n!/docs/keep.md\n!no?es.txt\n")
    assert context_files(tmp_path, "app/Dockerfile") == [
        "app/Dockerfile", "app/main.py", "app/pkg/m.py", "docs/keep.md", "notes.txt"]
    (tmp_path / ".dockerignore").unlink()  # no .dockerignore: everything goes
    assert len(context_files(tmp_path, "app/Dockerfile")) == 9


def test_the_repository_context_is_the_trainer_without_bytecode():
    files = context_files(REPO, "trainer/Dockerfile")
    assert "trainer/Dockerfile" in files and "trainer/requirements.txt" in files
    assert all(f.startswith("trainer/") and "__pycache__" not in f for f in files)


def test_the_context_digest_follows_contents_not_times(tmp_path):
    root = small_context(tmp_path)
    before = context_digest(root, "trainer/Dockerfile")
    script = root / "trainer" / "train.py"
    script.touch()
    subprocess.run(["touch", "-d", "2001-01-01", str(script)], check=True)
    assert context_digest(root, "trainer/Dockerfile") == before
    script.write_text("print('changed')\n")
    assert context_digest(root, "trainer/Dockerfile") != before


# --- the provider against the stand-in --------------------------------------------------------------------------


def test_create_uploads_the_context_builds_as_the_builder_and_returns_the_digest(bucket):
    with CloudBuildStandIn(polls_until_done=2) as standin:  # one poll sees it WORKING
        made = provider(standin).create(props(bucket, build_args={"TORCH_INDEX_URL": "https://pypi.org/simple"}))
    (build,) = standin.builds.values()
    assert made.outs["digest"] == standin.pushed[TAG] and made.outs["digest"].startswith("sha256:")
    assert (made.id, made.outs["build_id"], made.outs["log_url"]) == (build.id, build.id, build.log_url)
    operation = standin.requests[1][1]
    assert standin.requests == [("POST", "/v1/projects/acme-ml/locations/europe-west4/builds", 200),  # regional
                                ("GET", operation, 200), ("GET", operation, 200)]
    assert operation.startswith("/v1/projects/acme-ml/locations/europe-west4/operations/")
    digest = props(bucket)["context_digest"]
    source = build.source.storage_source
    assert (source.bucket, source.object_) == (bucket, f"staging/cloudbuild/{digest.removeprefix('sha256:')}.tar.gz")
    uploaded = storage.gcs_client().bucket(bucket).get_blob(source.object_)
    assert source.generation == uploaded.generation  # pinned: a later upload cannot change what is built
    assert "sha256:" + hashlib.sha256(gzip.decompress(uploaded.download_as_bytes())).hexdigest() == digest
    assert build.service_account == BUILDER and list(build.images) == [TAG]
    assert build.options.logging == build.options.LoggingMode.Value("CLOUD_LOGGING_ONLY")
    assert build.timeout.seconds == cloudbuild.BUILD_TIMEOUT_S
    (step,) = build.steps
    assert step.name == "gcr.io/cloud-builders/docker"
    assert list(step.args) == ["build", "-f", "trainer/Dockerfile", "--build-arg",
                               "TORCH_INDEX_URL=https://pypi.org/simple", "--label", "team=vision", "-t", TAG, "."]


def test_a_failing_build_is_one_line_with_its_status_and_log(bucket, standin):
    standin.fail_next_build()
    with pytest.raises(ImageBuildError) as failed:
        provider(standin).create(props(bucket))
    (build,) = standin.builds.values()
    assert str(failed.value) == (
        f"Cloud Build build {build.id} of {TAG} ended FAILURE (USER_BUILD_STEP: Build step failure: build step 0 "
        f'"gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1): its log is at '
        f"{build.log_url} (Build failed; check build logs for details); fix what it says, then pulumi up again")


def test_a_refused_create_and_missing_credentials_are_one_line(bucket, standin, monkeypatch):
    standin.fail_next_create(403, "Cloud Build API has not been used in project acme-ml before or it is disabled.")
    with pytest.raises(ImageBuildError, match=r"^building .*trainer:latest on Cloud Build: 403 Cloud Build API has "
                                              r"not been used .*: check that the Cloud Build API is enabled"):
        provider(standin).create(props(bucket))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(REPO / "no-such-key.json"))
    with pytest.raises(ImageBuildError, match=r"needs Google Cloud credentials .*: run `gcloud auth "
                                              r"application-default login`, then pulumi up again$"):
        CloudBuildProvider(api_endpoint=standin.url).create(props(bucket))


def test_a_context_changed_since_the_program_ran_is_refused(bucket, standin, tmp_path):
    root = small_context(tmp_path)
    planned = props(bucket, context=root)
    (root / "trainer" / "train.py").write_text("print('edited')\n")
    with pytest.raises(ImageBuildError, match="changed while pulumi up ran: run pulumi up again"):
        provider(standin).create(planned)
    assert not standin.builds


def test_only_a_changed_build_input_builds_again(bucket, standin, tmp_path):
    root = small_context(tmp_path)
    olds = provider(standin).create(props(bucket, context=root)).outs
    same = {**props(bucket, context=root, __provider="pickled by another version"), "context": "/another/checkout",
            "service_account": BUILDER.replace("vision-builder", "other-builder")}
    assert provider(standin).diff("b", olds, same).changes is False  # a new provider, checkout or account: no build
    no_args = {key: value for key, value in olds.items() if key != "build_args"}
    assert provider(standin).diff("b", no_args, same).changes is False  # none and empty are the same
    for key, value in [("tag", TAG.replace("trainer:", "other:")), ("dockerfile", "Dockerfile"),
                       ("build_args", {"A": "1"}), ("labels", {})]:
        assert provider(standin).diff("b", olds, {**same, key: value}).changes is True, key
    (root / "trainer" / "train.py").write_text("print('changed')\n")
    news = props(bucket, context=root)
    assert provider(standin).diff("b", olds, news).changes is True
    updated = provider(standin).update("b", olds, news).outs
    assert len(standin.builds) == 2 and updated["digest"] != olds["digest"]
    assert updated["context_digest"] == news["context_digest"] and updated["build_id"] != olds["build_id"]


def test_the_provider_host_reports_a_failed_build_in_one_line(bucket, standin):
    """As the engine runs it: ``python -m pulumi.dynamic`` serving gRPC, the provider pickled in ``__provider``."""
    pickled = base64.b64encode(dill.dumps(provider(standin), recurse=True)).decode()
    host = subprocess.Popen([sys.executable, "-m", "pulumi.dynamic"], stdout=subprocess.PIPE, cwd=REPO)
    try:
        port = int(host.stdout.readline())
        stub = provider_pb2_grpc.ResourceProviderStub(grpc.insecure_channel(f"127.0.0.1:{port}"))

        def create() -> provider_pb2.CreateResponse:
            loop = asyncio.new_event_loop()  # as the host does: asyncio.run would unset the tests' own loop
            request = loop.run_until_complete(rpc.serialize_properties(props(bucket, __provider=pickled), {}))
            loop.close()
            return stub.Create(provider_pb2.CreateRequest(urn="urn:pulumi:s::sweeps::t::img", properties=request),
                               timeout=60)

        made = create()
        assert dict(made.properties)["digest"] == standin.pushed[TAG]
        standin.fail_next_build()
        with pytest.raises(grpc.RpcError) as failed:
            create()
    finally:
        host.kill()
        host.wait()
    build = list(standin.builds.values())[-1]
    assert failed.value.details() == (
        f"infra.cloudbuild.ImageBuildError: Cloud Build build {build.id} of {TAG} ended FAILURE (USER_BUILD_STEP: "
        f'Build step failure: build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero '
        f"status: 1): its log is at {build.log_url} (Build failed; check build logs for details); fix what it says, "
        "then pulumi up again\n")


# --- the program ---------------------------------------------------------------------------------------------


@pytest.fixture
def cloud_config(config: StackConfig) -> StackConfig:
    return config.model_copy(update={"image_builder": "cloudbuild"})


def test_a_cloud_build_stack_builds_as_its_own_account_with_scoped_grants(cloud_config):
    deployed = deploy(lambda: project_outputs(cloud_config))
    assert not deployed.of_type("docker-build:index:Image")
    (image,) = deployed.of_type(cloudbuild.TYPE)
    assert image.inputs["service_account"] == BUILDER and image.inputs["tag"] == TAG
    assert image.inputs["context_digest"] == context_digest(REPO, "trainer/Dockerfile")
    assert image.inputs["context"] == str(Path(".").resolve()) and image.inputs["dockerfile"] == "trainer/Dockerfile"
    services = {s.inputs["service"] for s in deployed.of_type("gcp:projects/service:Service")}
    assert "cloudbuild.googleapis.com" in services
    builder = deployed.named("vision-acme-ml-builder")
    assert builder.inputs["accountId"] == "vision-builder"
    assert not deployed.of_type("gcp:serviceaccount/key:Key")
    granted = {(r.type.split(":")[1], r.inputs["role"], r.inputs.get("repository") or r.inputs.get("bucket")
                or r.inputs["project"], (r.inputs.get("condition") or {}).get("expression"))
               for r in deployed.resources if r.inputs.get("member") == BUILDER_MEMBER}
    assert granted == {
        ("artifactregistry/repositoryIamMember", "roles/artifactregistry.writer", "vision-sweeps", None),
        ("storage/bucketIAMMember", "roles/storage.objectViewer", "acme-ml-vision-sweeps",
         'resource.name.startsWith("projects/_/buckets/acme-ml-vision-sweeps/objects/staging/cloudbuild/")'),
        ("projects/iAMMember", "roles/logging.logWriter", "acme-ml", None),
    }
    assert deployed.outputs["image"].startswith(
        "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer@sha256:")
    assert policy.check(deployed.resources, deployed.outputs) == []


def test_the_build_waits_for_its_api_and_grants(cloud_config):
    deployed = deploy(lambda: project_outputs(cloud_config))
    (index,) = [i for i, r in enumerate(deployed.resources) if r.type == cloudbuild.TYPE]
    before = {r.name for r in deployed.resources[:index]}  # the mocks register in dependency order
    assert {"vision-acme-ml-cloudbuild", "vision-acme-ml-repository", "vision-acme-ml-builder-push",
            "vision-acme-ml-builder-sources", "vision-acme-ml-builder-logs"} <= before


def test_a_cuda_image_is_built_on_cloud_build_too(cloud_config):
    deployed = deploy(lambda: project_outputs(cloud_config.model_copy(update={"cuda_image": True})))
    images = {r.inputs["tag"].rsplit("/", 1)[1]: r.inputs for r in deployed.of_type(cloudbuild.TYPE)}
    assert images["trainer-cuda:latest"]["build_args"] == {"TORCH_INDEX_URL": "https://pypi.org/simple"}
    assert deployed.outputs["cuda_image"].startswith("europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@")
    assert len(deployed.of_type("gcp:serviceaccount/account:Account")) == 2  # trainer and one builder


def test_docker_stacks_and_named_images_need_no_builder(config):
    for plain in (config, config.model_copy(update={
            "image_builder": "cloudbuild",
            "trainer_image": "europe-west4-docker.pkg.dev/acme-ml/vision-sweeps/trainer@sha256:" + "ab" * 32})):
        deployed = deploy(lambda plain=plain: project_outputs(plain))
        assert not deployed.of_type(cloudbuild.TYPE)
        services = {s.inputs["service"] for s in deployed.of_type("gcp:projects/service:Service")}
        assert "cloudbuild.googleapis.com" not in services
        assert not [r for r in deployed.resources if "builder" in r.name]
    assert set(CLOUD_BUILD_APIS).isdisjoint(APIS)


def test_the_program_builds_on_cloud_build_from_the_stack_key(example_keys, monkeypatch):
    keys = {**example_keys, "sweeps:imageBuilder": "cloudbuild"}
    deployed = deploy(run_main(keys, monkeypatch), stack="ml-research-my-ml-project")
    (image,) = deployed.of_type(cloudbuild.TYPE)
    assert image.inputs["context"] == str(REPO)
    assert deployed.outputs["image"].startswith("us-central1-docker.pkg.dev/my-ml-project/ml-research-sweeps/trainer@")
    assert policy.check(deployed.resources, deployed.outputs) == []


# --- the stack key and onboarding ------------------------------------------------------------------------------


def test_the_image_builder_key_is_checked():
    base = {"project": "acme-ml", "region": "europe-west4", "team": "vision"}
    assert StackConfig.parse(base).image_builder == "docker"
    with pytest.raises(ConfigError, match=r"^sweeps:imageBuilder: Input should be 'docker' or 'cloudbuild' "
                                          r"\(got 'podman'\)$"):
        StackConfig.parse({**base, "imageBuilder": "podman"})
    with pytest.raises(ConfigError, match="imageBuilder cloudbuild builds the trainer image and buildImage false "
                                          "builds none"):
        StackConfig.parse({**base, "imageBuilder": "cloudbuild", "buildImage": False})


def test_invoke_onboard_no_docker_picks_cloud_build(checkout):
    args = ("infra.onboard", "--project", "acme-ml", "--team", "vision", "--region", "europe-west4", "--no-up")
    done = invoke(*args, "--no-docker", root=checkout, cwd=checkout)
    assert done.returncode == 0, done
    path = checkout / "infra" / "stacks" / "Pulumi.vision-acme-ml.yaml"
    assert yaml.safe_load(path.read_text())["config"]["sweeps:imageBuilder"] == "cloudbuild"
    done = invoke(*args, "--no-docker", "--no-image", root=checkout, cwd=checkout)
    assert done.returncode == 2
    assert done.stderr == ("infra.onboard: --no-docker has Cloud Build build the trainer image and --no-image builds "
                           "none: give one of them\n")
