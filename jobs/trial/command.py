"""What the platform knows of a trainer command: whether it is the reference trainer (``python -m trainer``,
which can start warm) and which metrics a trainer reports to the tuner.

A trainer package declares its reported metrics as an entry point in the group ``sweeps.reported_metrics``:
the name is the module run with ``python -m``, the value a sequence of metric ids (this project's own
``pyproject.toml`` declares the reference trainer's). The platform reads that declaration by name and never
imports a trainer otherwise (the warm fork server excepted, jobs/local/warm.py).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

PYTHONS = {"python", "python3", sys.executable}
REFERENCE_MODULE = "trainer"
METRICS_GROUP = "sweeps.reported_metrics"


def module_of(argv: list[str]) -> str | None:
    """``python -m MODULE ...`` -> MODULE; None for any other command."""
    return argv[2] if len(argv) >= 3 and argv[0] in PYTHONS and argv[1] == "-m" else None


def is_reference_trainer(argv: list[str]) -> bool:
    """``python -m trainer ...``: the trainer this package ships, which can start warm."""
    return module_of(argv) == REFERENCE_MODULE


def reported_metrics(argv: list[str]) -> tuple[str, ...] | None:
    """The metrics the command's trainer package declares it reports; None when it declares none."""
    module = module_of(argv)
    found = entry_points(group=METRICS_GROUP, name=module) if module else ()
    return tuple(next(iter(found)).load()) if found else None


def unreported_metric(command: list[str], metric_id: str) -> str | None:
    """Why a sweep of ``command`` cannot rank by ``metric_id``, when its trainer declares the metrics it
    reports and this is not one of them; else None."""
    declared = reported_metrics(command)
    if declared is None or metric_id in declared:
        return None
    module = module_of(command)
    who = f"the reference trainer (python -m {module})" if module == REFERENCE_MODULE else f"python -m {module}"
    return (f"{who} reports only {', '.join(declared)} to the tuner; Vertex AI reads only those "
            f"reports, so every trial ranked by {metric_id!r} would end INFEASIBLE")
