"""The vertex section's machine and accelerator check, against Vertex AI's GPU compatibility rules."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from jobs.spec import SpecError, parse_spec
from jobs.vertex.machines import FIXED_GPUS, N1_GPUS, machine_problem, support_notice
from jobs.vertex.resources import check
from tests.support import vertex_rules as standin
from tests.support.helpers import invoke
from tests.support.vertex import DIGEST, write_outputs

CUDA = f"us-central1-docker.pkg.dev/acme-ml/vision-sweeps/trainer-cuda@{DIGEST}"

ACCELERATORS = [*N1_GPUS, "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB",
                "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB", "NVIDIA_B200", "NVIDIA_GB200", "NVIDIA_RTX_PRO_6000",
                "NVIDIA_TESLA_K80", "TPU_V3"]
MACHINES = [*FIXED_GPUS, *(f"n1-{family}-{size}" for family in ("standard", "highmem", "highcpu")
                           for size in (2, 4, 8, 16, 32, 64, 96))]
P100_SERVED = dt.date(2026, 9, 1)  # before the P100's end of support (2026-09-15): every row of the table holds

# Vertex AI's "Valid numbers of GPUs for each machine type" (docs.cloud.google.com/gemini-enterprise-agent-platform/
# machine-learning/training/configure-compute#gpu-compatibility-table, read 2026-12-05), written out row by row.
# N1 rows as (P4, P100, T4, V100); the page's copy gives the 64- and 96-vCPU rows three values, which fit only with
# no P100 count (n1-highcpu-64 has four values: 4 P100s fit its 57.6 GB).
_ALL, _16, _32, _64 = ("124", "124", "124", "1248"), ("124", "124", "124", "248"), ("24", "24", "24", "48"), \
    ("4", "", "4", "8")
N1_TABLE = {
    "n1-standard-4": _ALL, "n1-standard-8": _ALL, "n1-standard-16": _16, "n1-standard-32": _32,
    "n1-standard-64": _64, "n1-standard-96": _64,
    "n1-highmem-2": _ALL, "n1-highmem-4": _ALL, "n1-highmem-8": _ALL, "n1-highmem-16": _16, "n1-highmem-32": _32,
    "n1-highmem-64": _64, "n1-highmem-96": _64,
    "n1-highcpu-16": _16, "n1-highcpu-32": _32, "n1-highcpu-64": ("4", "4", "4", "8"), "n1-highcpu-96": _64,
}
FIXED_TABLE = {
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8), "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8), "a4x-highgpu-4g": ("NVIDIA_GB200", 4),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)}, "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"g2-standard-{v}": ("NVIDIA_L4", n) for v, n in ((4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1), (48, 4),
                                                        (96, 8))},
    **{f"g4-standard-{v}": ("NVIDIA_RTX_PRO_6000", n) for v, n in ((48, 1), (96, 2), (192, 4), (384, 8))},
}
N1_COLUMNS = ("NVIDIA_TESLA_P4", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100")


def documented(machine: str, accelerator: str, count: int) -> bool:
    """Whether the page's table allows ``count`` x ``accelerator`` on ``machine``."""
    if machine in N1_TABLE and accelerator in N1_COLUMNS:
        return str(count) in N1_TABLE[machine][N1_COLUMNS.index(accelerator)] and count < 10
    return FIXED_TABLE.get(machine) == (accelerator, count)


def vertex(**fields):
    """The vertex section ``fields``, as the Vertex AI backend checks it when it plans or submits a sweep."""
    spec = parse_spec({"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 1},
                       "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, "vertex": fields}, "s.yaml")
    return check(spec, "s.yaml").resources


@pytest.mark.parametrize("machine, accelerator, count", [
    ("n1-standard-4", "NVIDIA_TESLA_T4", 1), ("n1-standard-4", "NVIDIA_TESLA_T4", 4),
    ("n1-standard-96", "NVIDIA_TESLA_T4", 4), ("n1-highmem-8", "NVIDIA_TESLA_V100", 8),
    ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1), ("g2-standard-32", "NVIDIA_L4", 1),
    ("a3-highgpu-8g", "NVIDIA_H100_80GB", 8), ("e2-standard-4", None, 0),
])
def test_pairs_vertex_offers_pass(machine, accelerator, count):
    assert vertex(machine_type=machine, accelerator_type=accelerator, accelerator_count=count).machine_type


@pytest.mark.parametrize("machine, accelerator, count, says", [
    ("n1-standard-4", "NVIDIA_TESLA_A100", 1, "vertex.accelerator_type: 1 x NVIDIA_TESLA_A100 does not fit machine "
     "type n1-standard-4; machines that take it (allowed counts): a2-highgpu-1g (1), a2-highgpu-2g (2)"),
    ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 2, "a2-highgpu-1g has exactly 1 NVIDIA_TESLA_A100, got accelerator_count 2"),
    ("n1-standard-4", "NVIDIA_TESLA_T4", 3, "n1-standard-4 (1, 2, 4)"),
    ("n1-standard-96", "NVIDIA_TESLA_T4", 1, "n1-standard-96 (4)"),
    ("n1-standard-64", "NVIDIA_TESLA_V100", 4, "n1-highmem-32 (4, 8)"),
    ("g2-standard-8", "NVIDIA_TESLA_T4", 1, "machines that take it (allowed counts): n1-standard-4 (1, 2, 4)"),
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


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_the_checker_and_the_vertex_stand_in_follow_vertex_ais_table(accelerator):
    """Two readings written apart, the spec check (jobs/vertex/machines.py, limits per GPU count) and the stand-in's 400
    (tests/support/vertex_rules.py), each take exactly the pairs of Vertex AI's table as written out above; the spec
    check also refuses the GB200, which the service gives only from a shared reservation the sweeps never name."""
    wrong = []
    for machine, count in itertools.product(MACHINES, (1, 2, 3, 4, 8, 16)):
        allowed = documented(machine, accelerator, count)
        ours = machine_problem(machine, accelerator, count) is None
        service = standin.machine_problem(machine, accelerator, count, today=P100_SERVED) is None
        if ours != (allowed and accelerator != "NVIDIA_GB200") or service != allowed:
            wrong.append((machine, count, allowed, ours, service))
    assert wrong == []


@pytest.mark.parametrize("accelerator, served_until, gone", [
    ("NVIDIA_TESLA_P100", dt.date(2026, 9, 14), dt.date(2026, 9, 15)),
    ("NVIDIA_TESLA_T4", dt.date(2027, 7, 31), dt.date(2027, 8, 1)),
    ("NVIDIA_TESLA_P4", dt.date(2027, 7, 31), dt.date(2027, 8, 1)),
])
def test_a_gpu_is_refused_from_its_end_of_support_at_submission_and_by_the_stand_in(accelerator, served_until, gone):
    """The spec check is the same on every date (an old run's spec stays readable); the date is compared when a
    sweep is planned or submitted (support_notice, from jobs/vertex/routes.py) and by the service."""
    assert machine_problem("n1-standard-8", accelerator, 1) is None
    for today, taken in ((served_until, True), (gone, False), (gone + dt.timedelta(days=400), False)):
        notice = support_notice(accelerator, today)
        assert (notice is None or not notice.refused) == taken
        assert taken == (standin.machine_problem("n1-standard-8", accelerator, 1, today) is None)
    why = notice.text
    assert f"reached end of support on {gone}" in why and "release notes of 2026-09-22" in why
    assert "NVIDIA_L4" in why and "\n" not in why


def test_a_gpu_within_90_days_of_its_end_of_support_is_a_warning():
    assert support_notice("NVIDIA_TESLA_T4", dt.date(2027, 5, 2)) is None
    notice = support_notice("NVIDIA_TESLA_T4", dt.date(2027, 5, 3))
    assert not notice.refused and "reaches end of support on 2027-08-01, in 90 days" in notice.text
    assert support_notice("NVIDIA_L4", dt.date(2027, 7, 31)) is None


def test_the_k80_is_refused_by_the_spec_and_the_p100_from_today_on():
    with pytest.raises(SpecError) as caught:
        vertex(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_K80", accelerator_count=1)
    assert "end of support" in str(caught.value) and "\n" not in str(caught.value)
    assert vertex(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_P100", accelerator_count=1)
    assert support_notice("NVIDIA_TESLA_P100", dt.date.today()).refused  # 2026-09-15 is past for good


@pytest.mark.parametrize("machine", ["n1-standard-2", "n1-highcpu-2", "n1-highcpu-4", "n1-highcpu-8"])
def test_n1_machines_vertex_does_not_list_are_refused_with_or_without_a_gpu(machine):
    for accelerator, count in ((None, 0), ("NVIDIA_TESLA_T4", 1)):
        with pytest.raises(SpecError) as caught:
            vertex(machine_type=machine, accelerator_type=accelerator, accelerator_count=count)
        assert f"vertex.machine_type: {machine} is not a machine type Vertex AI training takes" in str(caught.value)
        assert "n1-highcpu-16 to -96" in str(caught.value) and "\n" not in str(caught.value)
    assert standin.machine_problem(machine, "ACCELERATOR_TYPE_UNSPECIFIED", 0) == \
        f'Machine type "{machine}" is not supported.'


def test_the_rtx_pro_6000_is_taken_on_g4_and_the_gb200_refused_for_its_reservation():
    assert vertex(machine_type="g4-standard-96", accelerator_type="NVIDIA_RTX_PRO_6000", accelerator_count=2)
    for fields in ({"accelerator_type": "NVIDIA_GB200", "accelerator_count": 4}, {}):
        with pytest.raises(SpecError) as caught:
            vertex(machine_type="a4x-highgpu-4g", **fields)
        assert "NVIDIA_GB200 (a4x-highgpu-4g (4)): Vertex AI training gives it only from a shared reservation" \
            in str(caught.value) and "a4-highgpu-8g" in str(caught.value)


def gpu_dry_run(tmp_path, machine: str, accelerator: str):
    """`invoke tune --backend vertex --dry-run` of a one-GPU spec; returns the spec file and the finished process."""
    spec = tmp_path / "gpu.yaml"
    spec.write_text("name: gpu\nmetric: {id: validation_accuracy, goal: maximize}\n"
                    "parameters: {learning_rate: {type: double, min: 0.001, max: 0.1, scale: log}}\n"
                    "trials: {max: 4, parallel: 2}\n"
                    f"vertex: {{machine_type: {machine}, accelerator_type: {accelerator}, accelerator_count: 1}}\n")
    return spec, invoke("tune", "--backend", "vertex", "--outputs", str(write_outputs(tmp_path / "outputs.json")),
                        "--spec", str(spec), "--dry-run", cwd=tmp_path, timeout=120)


def one_line(done) -> str:
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_dry_run_of_an_a100_on_n1_exits_2_naming_a2(tmp_path):
    spec, done = gpu_dry_run(tmp_path, "n1-standard-4", "NVIDIA_TESLA_A100")
    assert "a2-highgpu-1g (1)" in one_line(done)

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


def test_dry_run_of_a_p100_exits_2_saying_it_reached_end_of_support(tmp_path):
    _, done = gpu_dry_run(tmp_path, "n1-standard-8", "NVIDIA_TESLA_P100")
    assert "NVIDIA_TESLA_P100 reached end of support on 2026-09-15" in one_line(done)
