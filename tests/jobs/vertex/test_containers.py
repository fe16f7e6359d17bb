"""Prebuilt containers against Google's table: any image in it may be named, others are one line naming the closest;
the package route's container is refused past its end of availability and warned about within 90 days of it."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.cloud.stack import load_outputs
from jobs.spec import SpecError, parse_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.containers import IMAGES, PYTORCH, served
from jobs.vertex.request import RequestError
from jobs.vertex.resources import check
from jobs.vertex.routes import dated_warnings
from tests.support.helpers import invoke
from tests.support.sweeps import tune_with
from tests.support.vertex import read, write_outputs

CPU_IMAGE = "us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest"
SERVED = dt.date(2026, 4, 1)  # PyTorch 2.4 (end of availability 2026-07-24) served, more than 90 days ahead
SOON = dt.date(2026, 5, 1)  # within 90 days of it
PAST = dt.date(2026, 7, 25)  # the day after it
TODAY = dt.date(2026, 12, 5)  # the day the table was read: no PyTorch, TensorFlow, scikit-learn or XGBoost image left


def spec(**vertex):
    """A spec with this vertex section, checked as the Vertex AI backend checks it."""
    parsed = parse_spec({"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 1},
                         "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, "vertex": vertex}, "s.yaml")
    return check(parsed, "s.yaml")


def outputs(tmp_path, image: bool = False):
    """A stack with no trainer image (only the package route), or with one."""
    path = write_outputs(tmp_path / "outputs.json")
    if not image:
        path.write_text(path.read_text().replace('"image"', '"no_image"'))
    return load_outputs(outputs_file=path)


@pytest.mark.parametrize("uri", [
    "us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-6:latest",
    "europe-docker.pkg.dev/vertex-ai/training/xgboost-gpu.2-1:latest",
    "asia-docker.pkg.dev/vertex-ai/training/tf-cpu.2-17.py310:latest",
    CPU_IMAGE,
])
def test_executor_image_may_name_any_image_in_the_table(uri):
    assert spec(executor_image=uri).resources.executor_image == uri


@pytest.mark.parametrize("uri, says", [
    ("us-docker.pkg.dev/vertex-ai/training/pytorch-gpu.2-6.py310:latest",
     "closest: pytorch-gpu.2-4.py310, pytorch-gpu.2-3.py310"),
    ("us.gcr.io/cloud-aiplatform/training/tf-cpu.2-17.py310:latest",
     "is not an address Google serves it at: use us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-17.py310:latest"),
    ("us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-6:20250711",
     "only the latest tag is supported"),
])
def test_an_image_outside_the_table_is_one_line_naming_what_to_use(uri, says):
    with pytest.raises(SpecError) as caught:
        spec(executor_image=uri)
    text = str(caught.value)
    assert "vertex.executor_image: must be one of Vertex AI's prebuilt training containers" in text
    assert says in text and "\n" not in text


def test_every_row_names_both_dates_the_defaults_are_pytorch_2_4_and_none_is_served_today():
    assert all(image.end_of_patch < image.end_of_availability for image in IMAGES.values())
    assert [(IMAGES[PYTORCH[kind]].framework, IMAGES[PYTORCH[kind]].gpu) for kind in ("cpu", "gpu")] == \
        [("PyTorch 2.4", False), ("PyTorch 2.4", True)]
    assert served(False, TODAY) == [] and served(True, TODAY) == []


def test_a_served_container_passes_without_a_warning(tmp_path):
    assert dated_warnings(spec(), outputs(tmp_path), "package", SERVED) == []


def test_a_container_within_90_days_of_its_end_is_a_warning(tmp_path):
    [warning] = dated_warnings(spec(), outputs(tmp_path), "package", SOON)
    assert warning.startswith(f"the package route's default container {CPU_IMAGE} (PyTorch 2.4) reaches its end of "
                              "availability on 2026-07-24, in 84 days")
    assert "sweeps:imageBuilder: cloudbuild" in warning
    assert "us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-2.py310:latest (until 2026-10-23)" in warning


@pytest.mark.parametrize("today, instead", [
    (PAST, "or set vertex.executor_image to one served longer: "
           "us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-2.py310:latest (until 2026-10-23)"),
    (TODAY, "none of the table's other images for CPU trials is served longer"),
])
def test_a_container_past_its_end_is_refused_naming_the_date_the_page_and_the_ways_out(tmp_path, today, instead):
    with pytest.raises(RequestError) as caught:
        dated_warnings(spec(), outputs(tmp_path), "package", today)
    text = str(caught.value)
    assert text.startswith(f"the package route's default container {CPU_IMAGE} (PyTorch 2.4) reached its end of "
                           "availability on 2026-07-24")
    assert "gemini-enterprise-agent-platform/machine-learning/training/pre-built-containers" in text
    assert "read 2026-12-05" in text and "framework-support-policy" in text
    assert "`sweeps:imageBuilder: cloudbuild`" in text and "`invoke infra.onboard --no-docker`" in text
    assert "vertex.route: image" in text and instead in text and "\n" not in text


def test_a_named_container_is_held_to_its_own_dates_and_the_image_route_to_none(tmp_path):
    named = spec(executor_image="us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-6:latest")
    with pytest.raises(RequestError, match=r"^vertex.executor_image .*sklearn-cpu.1-6:latest \(scikit-learn 1.6\) "
                                           r"reached its end of availability on 2026-07-11"):
        dated_warnings(named, outputs(tmp_path), "package", dt.date(2026, 7, 12))
    assert dated_warnings(named, outputs(tmp_path, image=True), "image", TODAY) == []


def test_the_gpu_is_warned_about_and_refused_by_its_own_date(tmp_path):
    t4 = spec(machine_type="n1-standard-8", accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1)
    [warning] = dated_warnings(t4, outputs(tmp_path, image=True), "image", dt.date(2027, 6, 1))
    assert "NVIDIA_TESLA_T4 reaches end of support on 2027-08-01, in 61 days" in warning
    with pytest.raises(RequestError, match="^vertex.accelerator_type NVIDIA_TESLA_T4 reached end of support"):
        dated_warnings(t4, outputs(tmp_path, image=True), "image", dt.date(2027, 8, 1))


def package_route_sweep(tmp_path) -> tuple:
    """A spec of the reference trainer and stack outputs with no trainer image: the package route."""
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("name: pkg\nmetric: {id: validation_loss, goal: minimize}\n"
                         "parameters: {learning_rate: {type: double, min: 0.001, max: 0.1, scale: log}}\n"
                         "trials: {max: 2}\n")
    path = write_outputs(tmp_path / "outputs.json")
    path.write_text(path.read_text().replace('"image"', '"no_image"'))
    return spec_file, path


def test_the_dry_run_prints_the_warning_on_the_date_given(tmp_path, console):
    spec_file, path = package_route_sweep(tmp_path)
    status = tune_with(VertexBackend(today=SOON), str(spec_file), outputs=str(path), run_id="pkg-1", dry_run=True,
                       runs_dir=tmp_path / "runs", console=console)
    assert status == 0, read(console)
    assert "warning: the package route's default container" in read(console)
    assert f'"executorImageUri": "{CPU_IMAGE}"' in read(console)


def test_today_the_package_routes_default_container_is_refused_in_one_line(tmp_path):
    spec_file, path = package_route_sweep(tmp_path)
    done = invoke("tune", "--backend", "vertex", "--outputs", str(path), "--spec", str(spec_file), "--dry-run",
                  cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "reached its end of availability on 2026-07-24" in lines[0], lines
    assert "sweeps:imageBuilder: cloudbuild" in lines[0]
