"""Which route a Vertex AI trial takes: the stack's trainer image, or a Python package on a prebuilt container.

image:   each trial runs the stack's trainer image (``python -m trainer``), built by ``pulumi up`` with Docker.
package: each trial installs a Python package on one of Google's prebuilt containers (jobs/vertex/containers.py; PyTorch
         2.4 unless the spec names another) and runs ``python -m MODULE``: the reference trainer's package, or the
         one ``trainer.package`` names. It needs no Docker anywhere and runs any trainer that runs locally as
         ``python -m MODULE``, for as long as Google serves the container (dated_warnings).
"""

from __future__ import annotations

import datetime as dt

from jobs.cloud.stack import StackOutputs
from jobs.trial.command import is_reference_trainer, module_of
from jobs.vertex.containers import IMAGES, POLICY, SOURCE, image_name, image_uri, served
from jobs.vertex.lifecycle import phase
from jobs.vertex.machines import support_notice
from jobs.vertex.request import RequestError, package_image
from jobs.vertex.resources import VertexSpec

IMAGE_ROUTE = ("the image route: a trainer image the stack builds (sweeps:buildImage: true with a local Docker "
               "engine, or `sweeps:imageBuilder: cloudbuild` without one, as `invoke infra.onboard --no-docker` "
               "sets) or names (sweeps:trainerImage), then `invoke infra.up --stack STACK` and vertex.route: image")


def choose_route(spec: VertexSpec, outputs: StackOutputs) -> str:
    """``vertex.route`` when the spec names one, else: the package route when ``trainer.package`` or
    ``vertex.executor_image`` is set or GPU trials would find no CUDA image, the image route when the stack has
    an image (a stack may name its own image for its own trainer), else the package route. Refused, saying what
    to change, when the stack cannot serve the route."""
    reference = is_reference_trainer(spec.trainer.command) and not spec.trainer.package
    route = spec.resources.route
    if route is None:  # GPU trials need the CUDA image; without one, the prebuilt GPU container runs them
        gpus_unserved = spec.resources.accelerator_type and not outputs.cuda_image
        asks_package = spec.trainer.package or spec.resources.executor_image
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


def dated_warnings(spec: VertexSpec, outputs: StackOutputs, route: str, today: dt.date) -> list[str]:
    """Warnings for what the trials run on (the spec's GPU; on the package route its container) within 90 days of
    its end of support or availability on ``today``; refused, saying the ways out, once past it."""
    warnings = []
    if spec.resources.accelerator_type and (notice := support_notice(spec.resources.accelerator_type, today)):
        if notice.refused:
            raise RequestError(f"vertex.accelerator_type {notice.text}")
        warnings.append(notice.text)
    if route == "package" and (warning := _container_warning(spec, outputs, today)):
        warnings.append(warning)
    return warnings


def _container_warning(spec: VertexSpec, outputs: StackOutputs, today: dt.date) -> str | None:
    """A warning when the package route's container ends within 90 days; refused once it has ended."""
    uri = package_image(spec, outputs)
    name = image_name(uri)  # the spec check admits only images in the table, and the default is one
    image = IMAGES[name]
    stage = phase(image.gone, today)
    if stage is None:
        return None
    named = "vertex.executor_image" if spec.resources.executor_image else "the package route's default container"
    gpus = bool(spec.resources.accelerator_type)
    others = [f"{image_uri(other, outputs.region)} (until {IMAGES[other].end_of_availability})"
              for other in served(gpus, today) if IMAGES[other].gone > image.gone]
    instead = (f"or set vertex.executor_image to one served longer: {', '.join(others[:3])}" if others else
               f"none of the table's other images for {'GPU' if gpus else 'CPU'} trials is served longer")
    if stage == "gone":
        raise RequestError(
            f"{named} {uri} ({image.framework}) reached its end of availability on {image.end_of_availability}: "
            f"after it \"you can no longer use images for this framework version\" ({POLICY}; dates from {SOURCE}); "
            f"run the trials on {IMAGE_ROUTE}; {instead}")
    return (f"{named} {uri} ({image.framework}) reaches its end of availability on {image.end_of_availability}, "
            f"in {(image.end_of_availability - today).days} days (then Vertex AI may refuse it: {POLICY}); move to "
            f"{IMAGE_ROUTE}; {instead}")
