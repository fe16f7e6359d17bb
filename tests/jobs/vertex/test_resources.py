"""The spec's vertex section: checked by the Vertex AI backend when it plans or submits, never by a local sweep."""

from __future__ import annotations

import pytest

from jobs.local.backend import LocalBackend
from jobs.spec import SpecError, parse_spec
from jobs.vertex.backend import VertexBackend
from jobs.vertex.resources import check
from tests.support.specs import minimal, mutated

EXECUTOR = "us-docker.pkg.dev/vertex-ai/training/pytorch-xla.2-4.py310:latest"
VERTEX_MALFORMED = [
    ("accelerator-count-without-type", [("vertex.accelerator_count", 1)],
     "spec.yaml: vertex.accelerator_type: is required when accelerator_count is 1"),
    ("accelerator-type-without-count", [("vertex.accelerator_type", "NVIDIA_TESLA_T4")],
     "spec.yaml: vertex.accelerator_count: must be > 0 when accelerator_type is 'NVIDIA_TESLA_T4'"),
    ("accelerator-count-negative", [("vertex.accelerator_count", -1)],
     "spec.yaml: vertex.accelerator_count: must be >= 0, got -1"),
    ("machine-type-empty", [("vertex.machine_type", "")], "spec.yaml: vertex.machine_type: must not be empty"),
    ("vertex-unknown-key", [("vertex.region", "us-central1")], "spec.yaml: vertex.region: unknown key"),
    ("scheduling-unknown", [("vertex.scheduling", "preemptible")],
     "spec.yaml: vertex.scheduling: must be 'standard', 'spot' or 'flex_start', got 'preemptible'"),
    ("flex-start-on-a-cpu", [("vertex.scheduling", "flex_start")],
     "spec.yaml: vertex.scheduling: flex_start (Dynamic Workload Scheduler) takes only L4, A100, H100, H200 or B200 "
     "GPUs, and this machine has none: set vertex.accelerator_type to one of NVIDIA_L4, NVIDIA_TESLA_A100, "
     "NVIDIA_A100_80GB, NVIDIA_H100_80GB, NVIDIA_H100_MEGA_80GB, NVIDIA_H200_141GB, NVIDIA_B200, or use standard "
     "or spot"),
    ("flex-start-on-a-t4", [("vertex.scheduling", "flex_start"), ("vertex.accelerator_type", "NVIDIA_TESLA_T4"),
                            ("vertex.accelerator_count", 1)],
     "spec.yaml: vertex.scheduling: flex_start (Dynamic Workload Scheduler) takes only L4, A100, H100, H200 or B200 "
     "GPUs, not NVIDIA_TESLA_T4: set vertex.accelerator_type to one of NVIDIA_L4,"),
    ("max-wait-without-flex-start", [("vertex.scheduling", "spot"), ("vertex.max_wait_minutes", 30)],
     "spec.yaml: vertex.max_wait_minutes: is how long a flex_start trial waits for its machine, and "
     "vertex.scheduling is spot: set scheduling to flex_start, or leave max_wait_minutes out"),
    ("max-wait-negative", [("vertex.max_wait_minutes", -1)],
     "spec.yaml: vertex.max_wait_minutes: must be >= 0, got -1"),
]


def vertex_problems(data: dict) -> str:
    spec = parse_spec(data, "spec.yaml")  # the shared spec takes the section as written
    with pytest.raises(SpecError) as caught:
        VertexBackend.check(spec, "spec.yaml")
    return str(caught.value)


@pytest.mark.parametrize("changes, expected", [case[1:] for case in VERTEX_MALFORMED],
                         ids=[case[0] for case in VERTEX_MALFORMED])
def test_a_malformed_vertex_section_names_file_field_and_reason(changes, expected):
    message = vertex_problems(mutated(*changes))
    assert expected in message
    assert all(line.startswith("spec.yaml: ") for line in message.splitlines())


def test_a_local_sweep_never_meets_vertex_ais_tables():
    data = mutated(("vertex.machine_type", "n1-standard-4"), ("vertex.accelerator_type", "NVIDIA_TESLA_A100"),
                   ("vertex.accelerator_count", 1))
    spec = parse_spec(data, "spec.yaml")
    LocalBackend.check(spec, "spec.yaml")  # an A100 on n1 is Vertex AI's problem, not this machine's
    refused = "vertex.accelerator_type: 1 x NVIDIA_TESLA_A100 does not fit machine type n1-standard-4"
    assert refused in vertex_problems(data)


def test_defaults():
    spec = check(minimal(), "spec.yaml")
    assert spec.resources.model_dump() == {
        "machine_type": "n1-standard-4", "accelerator_type": None, "accelerator_count": 0, "route": None,
        "executor_image": None, "scheduling": "standard", "max_wait_minutes": None}
    flex = minimal(vertex={"machine_type": "g2-standard-4", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1,
                           "scheduling": "flex_start", "max_wait_minutes": 0})  # 0: wait indefinitely
    assert (check(flex, "s.yaml").resources.scheduling, check(flex, "s.yaml").resources.max_wait_minutes) == (
        "flex_start", 0)


def test_a_section_that_is_not_a_mapping_or_an_unknown_one_is_the_shared_specs_error():
    for changes, expected in ((("vertex", 5), "spec.yaml: vertex: must be a mapping, got 5"),
                              (("vertx", {}), "spec.yaml: vertx: unknown key; did you mean 'vertex'?")):
        with pytest.raises(SpecError, match=expected):
            parse_spec(mutated(changes), "spec.yaml")


def test_the_image_route_takes_neither_an_executor_image_nor_a_package():
    message = vertex_problems(mutated(("vertex.route", "image"), ("trainer.package", "."), ("trainer.command",
                                      ["python", "-m", "mine"]), ("vertex.executor_image", EXECUTOR)))
    assert "spec.yaml: vertex.executor_image: is the package route's container" in message
    assert "spec.yaml: vertex.route: image runs the stack's trainer image, which does not run trainer." in message
