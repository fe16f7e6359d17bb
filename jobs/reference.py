"""The reference trainer (``python -m trainer``) as the rest of ``jobs`` needs to know it: how to recognise
its command, which metrics it reports to the tuner, and the variable that tells it its GPUs (declared
once, in ``trainer.config``)."""

from __future__ import annotations

import sys

from trainer.config import ACCELERATOR_ENV, REPORTED_METRICS

__all__ = ["ACCELERATOR_ENV", "is_reference_trainer", "unreported_metric"]

PYTHONS = {"python", "python3", sys.executable}


def is_reference_trainer(argv: list[str]) -> bool:
    """``python -m trainer ...``: the trainer this package ships, which can start warm."""
    return len(argv) >= 3 and argv[0] in PYTHONS and argv[1:3] == ["-m", "trainer"]


def unreported_metric(command: list[str], metric_id: str) -> str | None:
    """Why a sweep of ``command`` cannot rank by ``metric_id``, when the command is the reference trainer
    and the metric is not one it reports; else None."""
    if not is_reference_trainer(command) or metric_id in REPORTED_METRICS:
        return None
    return (f"the reference trainer (python -m trainer) reports only {', '.join(REPORTED_METRICS)} to the tuner; "
            f"Vertex AI reads only those reports, so every trial ranked by {metric_id!r} would end INFEASIBLE")
