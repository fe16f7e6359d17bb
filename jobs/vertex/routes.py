"""Which route a Vertex AI trial takes: the stack's trainer image, or a Python package on a prebuilt container.

image:   each trial runs the stack's trainer image (``python -m trainer``), built by ``pulumi up`` with Docker.
package: each trial installs a Python package on one of Google's prebuilt PyTorch containers (jobs/containers.py)
         and runs ``python -m MODULE``: the reference trainer's package, or the one ``trainer.package`` names.
         It needs no Docker anywhere and runs any trainer that runs locally as ``python -m MODULE``.
"""

from __future__ import annotations

from jobs.reference import is_reference_trainer, module_of
from jobs.spec import Spec
from jobs.vertex.outputs import StackOutputs
from jobs.vertex.request import RequestError


def choose_route(spec: Spec, outputs: StackOutputs) -> str:
    """``vertex.route`` when the spec names one, else: the package route when ``trainer.package`` or
    ``vertex.executor_image`` is set or GPU trials would find no CUDA image, the image route when the stack has
    an image (a stack may name its own image for its own trainer), else the package route. Refused, saying what
    to change, when the stack cannot serve the route."""
    reference = is_reference_trainer(spec.trainer.command) and not spec.trainer.package
    route = spec.vertex.route
    if route is None:  # GPU trials need the CUDA image; without one, the prebuilt GPU container runs them
        gpus_unserved = spec.vertex.accelerator_type and not outputs.cuda_image
        asks_package = spec.trainer.package or spec.vertex.executor_image
        route = "image" if outputs.image and not asks_package and not gpus_unserved else "package"
    if route == "image" and not outputs.image:
        raise RequestError(f"vertex.route image: the stack ({outputs.source}) has no trainer image (routes it "
                           f"offers: {', '.join(outputs.routes) or 'none'}); use vertex.route: package, or build the "
                           "image (sweeps:buildImage: true, or name one with sweeps:trainerImage) and run "
                           "`invoke infra.up --stack STACK`")
    if route == "package":
        if not outputs.staging:
            raise RequestError(f"the package route uploads the trainer package to the stack's staging prefix, and "
                               f"the stack ({outputs.source}) has no 'staging' output: run `invoke infra.up --stack "
                               "STACK` with this version to export it")
        if not reference and not spec.trainer.package:
            module = module_of(spec.trainer.command)
            raise RequestError(
                f"trainer.command is {' '.join(spec.trainer.command)!r}: on Vertex AI a trainer other than the "
                "reference one runs as a package; " + (
                    f"set trainer.package to the folder that {module}'s package builds from (its pyproject.toml)"
                    if module else "make it a package run with [python, -m, MODULE] and set trainer.package to its "
                                   "folder"))
    return route
