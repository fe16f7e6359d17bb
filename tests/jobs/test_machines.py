"""The spec's machine and accelerator check, against Vertex AI's GPU compatibility rules."""

from __future__ import annotations

import itertools

import pytest

from jobs.machines import FIXED_GPUS, N1_GPUS, machine_problem
from jobs.spec import SpecError, parse_spec
from tests.conftest import invoke
from tests.jobs.vertex import standin
from tests.jobs.vertex.conftest import DIGEST, write_outputs

CUDA = f"us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@{DIGEST}"

ACCELERATORS = [*N1_GPUS, "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB",
                "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB", "NVIDIA_B200", "NVIDIA_TESLA_K80", "TPU_V3"]
MACHINES = [*FIXED_GPUS, *(f"n1-{family}-{size}" for family in ("standard", "highmem", "highcpu")
                           for size in (2, 4, 8, 16, 32, 64, 96))]


def vertex(**fields):
    return parse_spec({"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 1},
                       "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, "vertex": fields}, "s.yaml")


@pytest.mark.parametrize("machine, accelerator, count", [
    ("n1-standard-4", "NVIDIA_TESLA_T4", 1), ("n1-standard-4", "NVIDIA_TESLA_T4", 4),
    ("n1-standard-96", "NVIDIA_TESLA_T4", 4), ("n1-highmem-8", "NVIDIA_TESLA_V100", 8),
    ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1), ("g2-standard-32", "NVIDIA_L4", 1),
    ("a3-highgpu-8g", "NVIDIA_H100_80GB", 8), ("e2-standard-4", None, 0),
])
def test_pairs_vertex_offers_pass(machine, accelerator, count):
    assert vertex(machine_type=machine, accelerator_type=accelerator, accelerator_count=count).vertex.machine_type


@pytest.mark.parametrize("machine, accelerator, count, says", [
    ("n1-standard-4", "NVIDIA_TESLA_A100", 1, "vertex.accelerator_type: 1 x NVIDIA_TESLA_A100 does not fit machine "
     "type n1-standard-4; machines that take it (allowed counts): a2-highgpu-1g (1), a2-highgpu-2g (2)"),
    ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 2, "a2-highgpu-1g has exactly 1 NVIDIA_TESLA_A100, got accelerator_count 2"),
    ("n1-standard-4", "NVIDIA_TESLA_T4", 3, "n1-standard-4 (1, 2, 4)"),
    ("n1-standard-96", "NVIDIA_TESLA_T4", 1, "n1-standard-96 (4)"),
    ("n1-standard-64", "NVIDIA_TESLA_P100", 4, "n1-highmem-32 (2, 4)"),
    ("g2-standard-8", "NVIDIA_TESLA_T4", 1, "machines that take it (allowed counts): n1-standard-2 (1, 2, 4)"),
    ("n1-standard-8", "NVIDIA_L4", 1, "g2-standard-4 (1)"),
    ("cloud-tpu", "TPU_V3", 8, "TPU_V3 is a TPU, not a GPU"),
    ("n1-standard-4", "NVIDIA_TESLA_K80", 1, "end of support"),
    ("a2-highgpu-1g", None, 0, "vertex.machine_type: a2-highgpu-1g comes with 1 NVIDIA_TESLA_A100: set "
     "accelerator_type: NVIDIA_TESLA_A100 and accelerator_count: 1"),
])
def test_pairs_vertex_refuses_are_one_line_naming_what_fits(machine, accelerator, count, says):
    with pytest.raises(SpecError) as caught:
        vertex(machine_type=machine, accelerator_type=accelerator, accelerator_count=count)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_checker_and_the_vertex_stand_in_agree_on_every_pair():
    """Two readings of Google's tables, written apart: the spec check (jobs/machines.py) and the stand-in's
    400 (tests/jobs/vertex/standin.py) must accept and refuse the same pairs."""
    disagree = []
    for machine, accelerator, count in itertools.product(MACHINES, ACCELERATORS, (1, 2, 3, 4, 8, 16)):
        ours = machine_problem(machine, accelerator, count) is None
        service = standin.machine_problem(machine, accelerator, count) is None
        if ours != service:
            disagree.append((machine, accelerator, count, ours, service))
    assert disagree == []


def test_dry_run_of_an_a100_on_n1_exits_2_naming_a2(tmp_path):
    spec = tmp_path / "gpu.yaml"
    spec.write_text("name: gpu\nmetric: {id: validation_accuracy, goal: maximize}\n"
                    "parameters: {learning_rate: {type: double, min: 0.001, max: 0.1, scale: log}}\n"
                    "trials: {max: 4, parallel: 2}\n"
                    "vertex: {machine_type: n1-standard-4, accelerator_type: NVIDIA_TESLA_A100, "
                    "accelerator_count: 1}\n")
    done = invoke("tune", "--backend", "vertex", "--outputs", str(tmp_path / "none.json"), "--spec", str(spec),
                  "--dry-run", cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "a2-highgpu-1g (1)" in lines[0], lines

    outputs = tmp_path / "outputs.json"
    write_outputs(outputs, cuda_image=CUDA)
    spec.write_text(spec.read_text().replace("machine_type: n1-standard-4", "machine_type: a2-highgpu-1g"))
    done = invoke("tune", "--backend", "vertex", "--outputs", str(outputs), "--spec", str(spec), "--dry-run",
                  cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f'"imageUri": "{CUDA}"' in done.stdout
    assert '"name": "SWEEPS_ACCELERATOR",\n' in done.stdout and '"value": "1xNVIDIA_TESLA_A100"' in done.stdout
    assert "estimated cost: up to " in done.stdout
    assert "0.8504 a2-highgpu-1g + 1 x 3.3740 NVIDIA_TESLA_A100" in done.stdout
