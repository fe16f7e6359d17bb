"""What a stack exports, defined once: the program (infra/project.py) exports ``Outputs``' fields and ``EXTRAS``, and
a sweep reads ``Outputs``' fields (jobs/cloud/stack.py's StackOutputs), so an output added here is both exported and
read. A leaf: it imports nothing of ours."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

# Exported for people and tools, read by no sweep: the bucket's name, the routes a trial can take on the stack
# (``routes``), and the repository the trainer images are pushed to.
EXTRAS = ("bucket", "routes", "repository")
# With sweeps:ci, what a team's CI authenticates with (infra/ci_identity.py, docs/ci.md).
CI_EXTRAS = ("ci_workload_identity_provider", "ci_service_account")


def routes(image: bool, staging: bool = True) -> tuple[str, ...]:
    """The routes a trial can take on a stack (jobs/vertex/routes.py), the one rule the stack's ``routes`` output and
    a sweep share: the trainer image when the stack has one, a package on a prebuilt container when it has a staging
    prefix to upload it to."""
    return (*(("image",) if image else ()), *(("package",) if staging else ()))


@dataclass(frozen=True)
class Outputs:
    """The outputs a sweep reads, one field each, named as exported; those with a default may be missing from a
    stack (one made by an older version, or without an image)."""

    project: str
    region: str
    data_root: str  # gs://<bucket>/data
    artifacts_root: str  # gs://<bucket>/artifacts
    trainer_service_account: str
    team: str | None = None  # a stack made before it was exported: its trainer account is <team>-trainer@...
    image: str | None = None  # REGISTRY/PATH@sha256:<digest>; None when the stack builds no image
    cuda_image: str | None = None  # the same trainer with CUDA torch, for GPU trials; by digest
    staging: str | None = None  # gs://<bucket>/staging

    @classmethod
    def required(cls) -> tuple[str, ...]:
        """The outputs every stack has."""
        return tuple(f.name for f in fields(cls) if f.default is MISSING)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every output a sweep reads."""
        return tuple(f.name for f in fields(Outputs))

    def exported(self, **extras: Any) -> dict[str, Any]:
        """The stack's outputs: each of these that is set, and ``extras``: every one of ``EXTRAS``, and either all
        of ``CI_EXTRAS`` or none."""
        if set(extras) - set(EXTRAS) not in (set(), set(CI_EXTRAS)) or not set(EXTRAS) <= set(extras):
            raise ValueError(f"the extra outputs are {', '.join(EXTRAS)} (and with CI {', '.join(CI_EXTRAS)}), not "
                             f"{', '.join(extras)}")
        return {**{name: value for name in self.names() if (value := getattr(self, name)) is not None}, **extras}
