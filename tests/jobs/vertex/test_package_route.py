"""The package route: a trainer package built here, uploaded under the run's staging prefix, pip-installed on a
prebuilt container (the stand-in's: a clean virtual environment with only torch, tests/support/prebuilt.py)
and run as ``python -m MODULE``; then reported like any other run."""

from __future__ import annotations

import ast
import json
import re
import tarfile

import pandas as pd
import pytest
import yaml
from google.cloud.aiplatform_v1.types import HyperparameterTuningJob
from google.protobuf import json_format

from jobs.cloud import storage
from jobs.cloud.package import PackageError, build_package, upload
from jobs.report import report
from jobs.spec import load_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.containers import PYTHON
from jobs.vertex.request import RequestError
from tests.support.helpers import REPO, copy_example_trainer, make_split
from tests.support.sweeps import records_of, tune_with
from tests.support.vertex import SERVED, outputs_for, read, settings_for, write_spec
from tests.support.vertex_standin import VertexStandIn
from trainer import uri

CPU_IMAGE = "us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest"
REFERENCE_ARGS = ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs=3", "--layers=1",
                  "--log_every=0"]


def reference_spec(tmp_path, **fields):
    return write_spec(tmp_path / "spec.yaml", name="pkg", metric={"id": "validation_loss", "goal": "minimize"},
                      parameters={"learning_rate": {"type": "double", "min": 1e-3, "max": 1e-1, "scale": "log"}},
                      trainer={"args": REFERENCE_ARGS}, trials={"max": 2, "parallel": 2}, **fields)


def no_image_outputs(tmp_path, bucket):
    """A stack that built no image (sweeps:buildImage false): it offers the package route only."""
    outputs = outputs_for(bucket)
    del outputs["image"]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    return tmp_path / "outputs.json"


def sweep_on_standin(tmp_path, bucket, console, spec, run_id):
    """Upload a small split, run ``spec`` on the stand-in, report it: (tune status, records, report status, job)."""
    for local in make_split(tmp_path / "data", rows=120):
        uri.write_bytes(f"gs://{bucket}/data/{local.name}", local.read_bytes())
    with VertexStandIn(tmp_path / "vertex") as vertex:
        chosen = VertexBackend(settings_for(vertex), today=SERVED)
        status = tune_with(chosen, str(spec), outputs=str(no_image_outputs(tmp_path, bucket)), run_id=run_id,
                           runs_dir=tmp_path / "runs", console=console)
        records = records_of(chosen, run_id, tmp_path / "runs")
        reported = report([run_id], latest=False, out=None, runs_dir=tmp_path / "runs", console=console,
                          choose=lambda name: chosen)
        [job] = vertex.jobs.values()
        log = next(iter(vertex.containers.values()))[1].read_text()
    return status, records, reported, job, log


def installed(log: str) -> set[str]:
    """The distributions an install log says it installed: uv's "+ name==version" lines, or pip's
    "Successfully installed name-version ..." line."""
    names = set(re.findall(r"^ \+ ([A-Za-z0-9_.-]+)==", log, re.M))
    for line in re.findall(r"^Successfully installed (.*)$", log, re.M):
        names |= {name.rsplit("-", 1)[0] for name in line.split()}
    return {name.lower().replace("_", "-") for name in names}


def assert_reported(tmp_path, run_id, records):
    """Every trial SUCCEEDED and its metrics.json is in the report's table, read from GCS."""
    assert sorted(r.state for r in records) == ["SUCCEEDED", "SUCCEEDED"]
    table = pd.read_csv(tmp_path / "runs" / run_id / "trials.csv", dtype={"trial_id": str}).set_index("trial_id")
    for record in records:
        metrics = json.loads(uri.read_bytes(f"{record.artifact_dir}/model/metrics.json"))
        assert table.loc[record.trial_id, "final_val_loss"] == pytest.approx(metrics["final_val_loss"])


@pytest.mark.slow
def test_the_reference_trainer_runs_as_a_package_on_a_stack_without_an_image(tmp_path, bucket, console):
    status, records, reported, job, log = sweep_on_standin(tmp_path, bucket, console, reference_spec(tmp_path),
                                                           "pkg-1")
    assert status == 0 and reported == 0, read(console)
    package = job.trial_job_spec.worker_pool_specs[0].python_package_spec
    assert package.executor_image_uri == CPU_IMAGE and package.python_module == "trainer"
    [archive] = package.package_uris
    assert archive.startswith(f"gs://{bucket}/staging/pkg/pkg-1/packages/")
    assert archive.endswith("/sweeps_trainer-0.1.0.tar.gz") and storage.exists(archive)
    # the container had only torch: the package's declared needs came with it
    assert {"sweeps-trainer", "numpy", "google-cloud-storage"} <= installed(log), log
    assert_reported(tmp_path, "pkg-1", records)
    assert f"uploaded the trainer package to {archive}" in read(console)


@pytest.mark.slow
def test_a_trainer_that_is_not_the_reference_runs_from_its_own_package(tmp_path, bucket, console):
    spec = copy_example_trainer(tmp_path / "logistic", trials={"max": 2, "parallel": 2})
    status, records, reported, job, log = sweep_on_standin(tmp_path, bucket, console, spec / "spec.yaml", "lr-1")
    assert status == 0 and reported == 0, read(console)
    package = job.trial_job_spec.worker_pool_specs[0].python_package_spec
    assert package.python_module == "logistic_trainer.task"
    assert package.package_uris[0].endswith("/logistic_trainer-0.1.0.tar.gz")
    assert {"logistic-trainer", "cloudml-hypertune"} <= installed(log), log
    assert_reported(tmp_path, "lr-1", records)
    for record in records:
        metrics = json.loads(uri.read_bytes(f"{record.artifact_dir}/model/metrics.json"))
        assert metrics["l2"] == pytest.approx(record.parameters["l2"])


def test_the_dry_run_names_image_package_and_module_and_uploads_nothing(tmp_path, bucket, console):
    spec = reference_spec(tmp_path, vertex={"accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 1})
    status = tune_with(VertexBackend(today=SERVED), str(spec), outputs=str(no_image_outputs(tmp_path, bucket)),
                       run_id="pkg-2", dry_run=True, runs_dir=tmp_path / "runs", console=console)
    text = read(console)
    assert status == 0, text
    body = text[text.index("\n{\n") + 1: text.index("\n}\n") + 2]
    parsed = HyperparameterTuningJob.pb()()
    json_format.Parse(body, parsed, ignore_unknown_fields=False)
    package = json.loads(body)["trialJobSpec"]["workerPoolSpecs"][0]["pythonPackageSpec"]
    assert package["executorImageUri"] == "us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-4.py310:latest"
    assert package["pythonModule"] == "trainer" and package["env"] == [
        {"name": "SWEEPS_ACCELERATOR", "value": "1xNVIDIA_TESLA_T4"}]
    [archive] = package["packageUris"]
    assert archive.startswith(f"gs://{bucket}/staging/pkg/pkg-2/packages/")
    assert "would upload the trainer package sweeps_trainer-0.1.0.tar.gz" in text and archive in text
    assert not list(storage.gcs_client().list_blobs(bucket))  # nothing uploaded
    assert not (tmp_path / "runs").exists()


def test_a_package_is_named_by_its_content_and_uploaded_once(tmp_path, bucket):
    spec = load_spec(reference_spec(tmp_path))
    first = build_package(spec, tmp_path, tmp_path / "one", PYTHON)
    again = build_package(spec, tmp_path, tmp_path / "two", PYTHON)
    assert first.digest == again.digest and first.archive.read_bytes() != b""
    target = first.uri(f"gs://{bucket}/staging", "pkg", "pkg-3")
    assert upload(first, target) is True
    def generation() -> int:
        return storage.gcs_client().bucket(bucket).get_blob(target.split(f"{bucket}/", 1)[1]).generation

    uploaded = generation()
    assert upload(again, target) is False  # a resubmitted run: the same content is already there
    assert generation() == uploaded
    with tarfile.open(first.archive) as tar:
        requires = tar.extractfile("sweeps_trainer-0.1.0/sweeps_trainer.egg-info/requires.txt").read().decode()
    assert "torch" not in requires and "numpy" in requires  # the container brings torch, the package the rest


def test_a_changed_trainer_gets_a_new_name(tmp_path):
    source = copy_example_trainer(tmp_path / "logistic")
    spec = load_spec(source / "spec.yaml")
    before = build_package(spec, source, tmp_path / "one", PYTHON)
    with open(source / "logistic_trainer" / "task.py", "a") as f:
        f.write("# changed\n")
    after = build_package(spec, source, tmp_path / "two", PYTHON)
    assert before.digest != after.digest
    assert before.uri("gs://b/staging", "s", "r") != after.uri("gs://b/staging", "s", "r")


def test_a_package_without_the_module_or_a_build_file_is_refused(tmp_path):
    source = copy_example_trainer(tmp_path / "logistic")
    spec = yaml.safe_load((source / "spec.yaml").read_text())
    spec["trainer"]["command"] = ["python", "-m", "logistic_trainer.train"]
    (source / "other.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(PackageError, match=r"has no module logistic_trainer.train .*logistic_trainer/task.py"):
        build_package(load_spec(source / "other.yaml"), source, tmp_path / "out", PYTHON)
    spec["trainer"]["package"] = "nowhere"
    (source / "other.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(PackageError, match=r"trainer.package 'nowhere' .*no pyproject.toml or setup.py"):
        build_package(load_spec(source / "other.yaml"), source, tmp_path / "out", PYTHON)


def test_routes_the_stack_cannot_serve_are_refused_with_what_to_enable(tmp_path, bucket, console):
    outputs = no_image_outputs(tmp_path, bucket)
    spec = reference_spec(tmp_path, vertex={"route": "image"})
    with pytest.raises(RequestError, match=r"has no trainer image \(routes it offers: package\).*sweeps:buildImage"):
        tune_with(VertexBackend(), str(spec), outputs=str(outputs), run_id="r-1", dry_run=True,
                  runs_dir=tmp_path / "runs", console=console)
    toy = write_spec(tmp_path / "toy.yaml")  # a trainer run as a script, not a package
    with pytest.raises(RequestError, match=r"runs as a package; make it a package run with \[python, -m, MODULE\]"):
        tune_with(VertexBackend(), str(toy), outputs=str(outputs), run_id="r-1", dry_run=True,
                  runs_dir=tmp_path / "runs", console=console)


@pytest.mark.parametrize("source", [REPO / "trainer", REPO / "examples" / "logistic-trainer" / "logistic_trainer"],
                         ids=["reference", "example"])
def test_the_packaged_trainers_parse_as_the_containers_python(source):
    """The prebuilt PyTorch containers run Python 3.10 (jobs/vertex/containers.py): no syntax from a later one."""
    major, minor = map(int, PYTHON.split("."))
    for module in source.glob("*.py"):
        ast.parse(module.read_text(), str(module), feature_version=(major, minor))


def test_a_package_its_backend_cannot_build_says_what_the_backend_said(tmp_path):
    source = copy_example_trainer(tmp_path / "broken")
    project = source / "pyproject.toml"
    project.write_text(project.read_text().replace('dependencies = [', 'dependencies = "numpy"\nx = ['))
    with pytest.raises(PackageError) as raised:
        build_package(load_spec(source / "spec.yaml"), source, tmp_path / "out", PYTHON)
    message = str(raised.value)
    assert "building its source distribution failed" in message and "`project.dependencies` must be array" in message
    assert "Traceback" not in message and '  File "' not in message
