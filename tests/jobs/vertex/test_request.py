"""The HyperparameterTuningJob built from a spec: every field, the dry run's JSON, the stack outputs."""

from __future__ import annotations

import json
import re

import pytest
from google.cloud.aiplatform_v1.types import HyperparameterTuningJob, StudySpec
from google.protobuf import json_format

from jobs.cloud.stack import OutputsError, load_outputs
from jobs.spec import SpecError, parse_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.request import RequestError, build_tuning_job, spec_hash, study_spec, trainer_note
from jobs.vertex.resources import check
from tests.support.sweeps import tune_with
from tests.support.vertex import DIGEST, read, write_outputs, write_spec

P = StudySpec.ParameterSpec
Scale = P.ScaleType

EVERY_KIND = {
    "name": "every-kind",
    "metric": {"id": "validation_loss", "goal": "minimize"},
    "parameters": {
        "lr": {"type": "double", "min": 1.0e-4, "max": 0.1, "scale": "log"},
        "decay": {"type": "double", "min": 0.5, "max": 0.999, "scale": "reverse_log"},
        "dropout": {"type": "double", "min": 0.0, "max": 0.5},
        "epochs": {"type": "integer", "min": 10, "max": 1000, "scale": "log"},
        "layers": {"type": "integer", "min": 1, "max": 4},
        "hidden": {"type": "discrete", "values": [16, 32, 64], "scale": "log"},
        "batch": {"type": "discrete", "values": [0, 32, 64.5]},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "momentum": {"type": "double", "min": 0.1, "max": 0.9, "when": {"optimizer": ["sgd"]}},
        "nesterov": {"type": "integer", "min": 0, "max": 1, "when": {"optimizer": ["sgd"]}},
        "width2": {"type": "discrete", "values": [8, 16], "when": {"layers": [2, 3, 4]}},
        "width3": {"type": "integer", "min": 4, "max": 8, "scale": "reverse_log", "when": {"width2": [16]}},
        "tail": {"type": "categorical", "values": ["a", "b"], "when": {"hidden": [64]}},
    },
    "algorithm": "random",
    "trials": {"max": 7, "parallel": 3, "max_failed": 2},
    "trainer": {"args": ["--train={data}/train_data.npz", "--val={data}/val_data.npz", "--epochs_cap=5"]},
    "vertex": {"machine_type": "n1-highmem-8", "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2},
}


@pytest.fixture
def outputs(tmp_path):
    return load_outputs(outputs_file=write_outputs(tmp_path / "outputs.json", "acme-sweeps", cuda_image=CUDA))


CUDA = f"us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@{DIGEST}"


def spec_of(**changes):
    """EVERY_KIND with ``changes``, checked as the Vertex AI backend checks it."""
    return check(parse_spec({**EVERY_KIND, **changes}, "test.yaml"), "test.yaml")


def by_id(parameters) -> dict:
    return {p.parameter_id: p for p in parameters}


def test_every_parameter_type_and_scale(outputs):
    study = build_tuning_job(spec_of(), outputs, "run-1").study_spec
    top = by_id(study.parameters)
    assert list(top) == ["lr", "decay", "dropout", "epochs", "layers", "hidden", "batch", "optimizer"]
    assert (top["lr"].double_value_spec.min_value, top["lr"].double_value_spec.max_value) == (1.0e-4, 0.1)
    assert top["lr"].scale_type == Scale.UNIT_LOG_SCALE
    assert top["decay"].scale_type == Scale.UNIT_REVERSE_LOG_SCALE
    assert top["dropout"].scale_type == Scale.UNIT_LINEAR_SCALE and "double_value_spec" in top["dropout"]
    assert (top["epochs"].integer_value_spec.min_value, top["epochs"].integer_value_spec.max_value) == (10, 1000)
    assert top["epochs"].scale_type == Scale.UNIT_LOG_SCALE
    assert top["layers"].scale_type == Scale.UNIT_LINEAR_SCALE
    assert list(top["hidden"].discrete_value_spec.values) == [16.0, 32.0, 64.0]
    assert top["hidden"].scale_type == Scale.UNIT_LOG_SCALE
    assert list(top["batch"].discrete_value_spec.values) == [0.0, 32.0, 64.5]
    assert list(top["optimizer"].categorical_value_spec.values) == ["adam", "sgd"]
    assert top["optimizer"].scale_type == Scale.SCALE_TYPE_UNSPECIFIED  # Vertex takes no scale for categories


def test_conditional_parameters_nest_under_their_parent_by_its_type(outputs):
    top = by_id(build_tuning_job(spec_of(), outputs, "run-1").study_spec.parameters)
    under_optimizer = top["optimizer"].conditional_parameter_specs
    assert [c.parameter_spec.parameter_id for c in under_optimizer] == ["momentum", "nesterov"]
    assert all(list(c.parent_categorical_values.values) == ["sgd"] for c in under_optimizer)
    assert under_optimizer[0].parameter_spec.double_value_spec.min_value == 0.1
    (width2,) = top["layers"].conditional_parameter_specs
    assert list(width2.parent_int_values.values) == [2, 3, 4]
    assert "parent_discrete_values" not in width2 and "parent_categorical_values" not in width2
    (width3,) = width2.parameter_spec.conditional_parameter_specs  # a grandchild, under a discrete parent
    assert list(width3.parent_discrete_values.values) == [16.0]
    assert width3.parameter_spec.scale_type == Scale.UNIT_REVERSE_LOG_SCALE
    (tail,) = top["hidden"].conditional_parameter_specs
    assert list(tail.parent_discrete_values.values) == [64.0]
    assert not top["lr"].conditional_parameter_specs


@pytest.mark.parametrize("algorithm, expected", [("adaptive", StudySpec.Algorithm.ALGORITHM_UNSPECIFIED),
                                                 ("random", StudySpec.Algorithm.RANDOM_SEARCH)])
def test_algorithm(algorithm, expected):
    assert study_spec(spec_of(algorithm=algorithm)).algorithm == expected


def test_grid_algorithm():
    grid = {"name": "g", "metric": {"id": "m", "goal": "maximize"}, "algorithm": "grid", "trials": {"max": 4},
            "parameters": {"k": {"type": "integer", "min": 1, "max": 3}}}
    assert study_spec(parse_spec(grid, "g.yaml")).algorithm == StudySpec.Algorithm.GRID_SEARCH


@pytest.mark.parametrize("measurement, expected", [("best", StudySpec.MeasurementSelectionType.BEST_MEASUREMENT),
                                                   ("last", StudySpec.MeasurementSelectionType.LAST_MEASUREMENT)])
def test_measurement(measurement, expected):
    assert study_spec(spec_of(measurement=measurement)).measurement_selection_type == expected


@pytest.mark.parametrize("early_stopping, field", [("none", None), ("median", "median_automated_stopping_spec"),
                                                   ("decay_curve", "decay_curve_stopping_spec")])
def test_early_stopping(early_stopping, field):
    study = study_spec(spec_of(early_stopping=early_stopping))
    assert StudySpec.pb(study).WhichOneof("automated_stopping_spec") == field


def test_metric_budget_machine_and_container(outputs):
    job = build_tuning_job(spec_of(), outputs, "every-kind-20250101-120000")
    assert [(m.metric_id, m.goal.name) for m in job.study_spec.metrics] == [("validation_loss", "MINIMIZE")]
    assert (job.max_trial_count, job.parallel_trial_count, job.max_failed_trial_count) == (7, 3, 2)
    (pool,) = job.trial_job_spec.worker_pool_specs
    assert pool.machine_spec.machine_type == "n1-highmem-8"
    assert (pool.machine_spec.accelerator_type.name, pool.machine_spec.accelerator_count) == ("NVIDIA_TESLA_T4", 2)
    assert pool.replica_count == 1
    assert pool.container_spec.image_uri == CUDA  # it has a T4
    assert list(pool.container_spec.command) == []  # the image's entrypoint runs: python -m trainer
    assert list(pool.container_spec.args) == ["--train=gs://acme-sweeps/data/train_data.npz",
                                              "--val=gs://acme-sweeps/data/val_data.npz", "--epochs_cap=5"]
    assert job.trial_job_spec.service_account == "vision-trainer@acme-ml.iam.gserviceaccount.com"
    assert job.trial_job_spec.base_output_directory.output_uri_prefix == \
        "gs://acme-sweeps/artifacts/every-kind/every-kind-20250101-120000/"
    assert job.display_name == "every-kind-20250101-120000"
    assert dict(job.labels) == {"spec": "every-kind", "run_id": "every-kind-20250101-120000", "team": "vision",
                                "spec_hash": spec_hash(spec_of())}


def test_the_spec_hash_label_names_the_spec_and_its_budget_not_its_ceiling():
    """16 hex digits: a label value (1-63 of lowercase letters, digits, '_' and '-')."""
    same = spec_hash(spec_of())
    assert re.fullmatch(r"[0-9a-f]{16}", same)
    assert spec_hash(spec_of(trials={**EVERY_KIND["trials"], "max_cost": 9.5})) == same  # the ceiling is run.json's
    reordered = dict(reversed(list(EVERY_KIND.items())))
    assert spec_hash(check(parse_spec(reordered, "o.yaml"), "o.yaml")) == same  # key order
    # a field at its default counts as left out: a spec field added later keeps the hash of jobs submitted before
    assert spec_hash(spec_of(vertex={**EVERY_KIND["vertex"], "scheduling": "standard"}, measurement="best")) == same
    changed = [spec_of(trials={**EVERY_KIND["trials"], "max": 8}), spec_of(algorithm="adaptive"),
               spec_of(parameters={"lr": {"type": "double", "min": 1.0e-4, "max": 0.2, "scale": "log"}})]
    assert len({same, *map(spec_hash, changed)}) == 4


def test_no_accelerator_sends_none_and_unset_max_failed_lets_the_service_decide(outputs):
    job = build_tuning_job(spec_of(vertex={"machine_type": "e2-standard-4"}, trials={"max": 2}), outputs, "r")
    machine = job.trial_job_spec.worker_pool_specs[0].machine_spec
    assert machine.accelerator_type.name == "ACCELERATOR_TYPE_UNSPECIFIED" and machine.accelerator_count == 0
    assert job.max_failed_trial_count == 0  # "Vertex AI decides": a failing first trial ends the job


def test_max_failed_above_max_is_sent_as_max(outputs):
    job = build_tuning_job(spec_of(trials={"max": 3, "max_failed": 10}), outputs, "r")
    assert job.max_failed_trial_count == 3


def test_unknown_accelerator_and_bad_run_id_and_local_data_are_refused(outputs):
    with pytest.raises(SpecError, match="NVIDIA_TESLA_T5 is not a GPU that Vertex AI training attaches"):
        VertexBackend.check(spec_of(vertex={"accelerator_type": "NVIDIA_TESLA_T5", "accelerator_count": 1}), "s.yaml")
    with pytest.raises(RequestError, match="it is the job's run_id label, so it must be 1-63 characters"):
        build_tuning_job(spec_of(), outputs, "Run_1")
    with pytest.raises(RequestError, match="gs:// prefix"):
        build_tuning_job(spec_of(), outputs, "r", data_root="data/default")


def test_a_run_id_that_is_no_label_value_is_refused_before_the_stack_is_read(tmp_path, console):
    """A folder name the local backend takes (Run_1) is no Vertex AI label value: the Vertex backend's own rule."""
    spec = write_spec(tmp_path / "spec.yaml")
    with pytest.raises(RequestError, match="^run id 'Run_1': on Vertex AI it is the job's run_id label, so it must be "
                                           "1-63 characters of lowercase letters, digits, '_' and '-'"):
        tune_with(VertexBackend(), str(spec), console=console, run_id="Run_1", dry_run=True,
                  outputs=str(tmp_path / "no-such-outputs.json"))


def test_dry_run_prints_the_request_as_strict_vertex_rest_json(tmp_path, outputs, console):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(json.dumps(EVERY_KIND))  # JSON is YAML
    status = tune_with(VertexBackend(), str(spec_file), outputs=str(tmp_path / "outputs.json"), run_id="every-kind-1",
                         dry_run=True, runs_dir=tmp_path / "runs", console=console)
    assert status == 0
    text = read(console)
    body = text[text.index("\n{\n") + 1: text.index("\n}\n") + 2]
    parsed = HyperparameterTuningJob.pb()()
    json_format.Parse(body, parsed, ignore_unknown_fields=False)
    assert parsed == HyperparameterTuningJob.pb(build_tuning_job(spec_of(), outputs, "every-kind-1"))
    document = json.loads(body)
    assert document["studySpec"]["parameters"][0]["scaleType"] == "UNIT_LOG_SCALE"  # REST names, camelCase
    assert document["trialJobSpec"]["workerPoolSpecs"][0]["containerSpec"]["imageUri"].endswith(DIGEST)
    assert ("POST https://us-central1-aiplatform.googleapis.com/v1/projects/acme-ml/locations/us-central1/"
            "hyperparameterTuningJobs") in text
    assert ("estimated cost: up to 1.61 USD = 7 trials x 10 min x (0.5442 n1-highmem-8 + 2 x 0.4025 NVIDIA_TESLA_T4 + "
            "100 GB x 0.000268 pd-ssd boot disk) = 1.3760 USD/h") in text
    assert not (tmp_path / "runs").exists()  # a dry run submits and records nothing


def test_a_trainer_command_the_image_does_not_run_is_called_out(tmp_path, console):
    assert trainer_note(spec_of()) is None
    note = trainer_note(spec_of(trainer={"command": ["python", "train_nn.py"]}))
    assert "'python train_nn.py'" in note and "not sent" in note and "trainerImage" in note
    spec = write_spec(tmp_path / "spec.yaml", trainer={"command": ["python", "train_nn.py"], "args": []})
    outputs = str(write_outputs(tmp_path / "o.json"))
    tune_with(VertexBackend(), str(spec), outputs=outputs, dry_run=True, console=console)
    assert "warning: trainer.command is 'python train_nn.py'" in read(console)


def test_outputs_by_tag_missing_or_not_gcs_are_refused_by_name(tmp_path):
    tagged = write_outputs(tmp_path / "tag.json",
                           image="us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer:latest")
    with pytest.raises(OutputsError, match=r"output 'image': .*trainer:latest.*by digest.*never a tag"):
        load_outputs(outputs_file=tagged)
    missing = write_outputs(tmp_path / "missing.json", trainer_service_account=None, data_root="")
    with pytest.raises(OutputsError) as caught:
        load_outputs(outputs_file=missing)
    assert "output 'data_root' is missing" in str(caught.value)
    assert "output 'trainer_service_account' is missing" in str(caught.value)
    local = write_outputs(tmp_path / "local.json", artifacts_root="/tmp/artifacts")
    with pytest.raises(OutputsError, match="output 'artifacts_root' must be a gs://BUCKET/PATH prefix"):
        load_outputs(outputs_file=local)
    with pytest.raises(OutputsError, match="--stack TEAM-PROJECT"):
        load_outputs()


@pytest.mark.parametrize("field, value, says", [
    ("region", "us-central1/../x", "output 'region': 'us-central1/../x' is not a Vertex AI training region"),
    ("artifacts_root", "gs://Bad Bucket/a", "output 'artifacts_root' must be a gs://BUCKET/PATH prefix"),
    ("team", "Vision Team", "output 'team': 'Vision Team' is not a team name"),
    ("project", "acme/../x", "output 'project': 'acme/../x' is not a GCP project id"),
])
def test_outputs_that_would_reach_a_url_or_a_label_are_checked(tmp_path, field, value, says):
    with pytest.raises(OutputsError, match=re.escape(says)):
        load_outputs(outputs_file=write_outputs(tmp_path / "o.json", **{field: value}))


def test_outputs_team_comes_from_the_output_or_the_trainer_account(tmp_path):
    assert load_outputs(outputs_file=write_outputs(tmp_path / "a.json")).team == "vision"
    assert load_outputs(outputs_file=write_outputs(tmp_path / "b.json", team="nlp")).team == "nlp"
    odd = write_outputs(tmp_path / "c.json", trainer_service_account="runner@acme-ml.iam.gserviceaccount.com")
    with pytest.raises(OutputsError, match="output 'team' is missing"):
        load_outputs(outputs_file=odd)


def test_outputs_from_the_pulumi_cli(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv\ncat {write_outputs(tmp_path / 'o.json')}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    outputs = load_outputs(stack="vision-acme-ml")
    assert outputs.project == "acme-ml" and outputs.source == "pulumi stack output --stack vision-acme-ml"
    assert (tmp_path / "argv").read_text().split() == ["stack", "output", "--json", "--stack", "vision-acme-ml"]
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(OutputsError, match="pulumi CLI is not on PATH.*--outputs FILE"):
        load_outputs(stack="vision-acme-ml")


def test_gpu_trials_run_the_cuda_image_and_are_told_their_gpus(tmp_path):
    gpu = spec_of(vertex={"machine_type": "g2-standard-24", "accelerator_type": "NVIDIA_L4", "accelerator_count": 2})
    with_cuda = load_outputs(outputs_file=write_outputs(tmp_path / "o.json", cuda_image=CUDA))
    container = build_tuning_job(gpu, with_cuda, "r").trial_job_spec.worker_pool_specs[0].container_spec
    assert container.image_uri == CUDA
    assert [(e.name, e.value) for e in container.env] == [("SWEEPS_ACCELERATOR", "2xNVIDIA_L4")]
    cpu = build_tuning_job(spec_of(vertex={}), with_cuda, "r").trial_job_spec.worker_pool_specs[0].container_spec
    assert cpu.image_uri.endswith("/trainer@" + DIGEST) and not cpu.env
    without = load_outputs(outputs_file=write_outputs(tmp_path / "p.json"))
    with pytest.raises(RequestError, match="has no CUDA trainer image.*sweeps:cudaImage: true"):
        build_tuning_job(gpu, without, "r")
    with pytest.raises(OutputsError, match="output 'cuda_image'.*not an image reference by digest"):
        load_outputs(outputs_file=write_outputs(tmp_path / "q.json", cuda_image="us-docker.pkg.dev/p/r/t:latest"))
