"""Invoke tasks: the sweep tasks at the root (``invoke tune``), the infra tasks under ``infra`` (``invoke
infra.onboard``); flag plumbing in ``tasks.flags``.

Invoke puts this folder first on ``sys.path``, where ``infra.py`` would hide the ``infra`` package: the folder above
goes first, so the tasks import the ``jobs`` and ``infra`` beside them (a copy of the repository runs its own).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [ROOT]:
    sys.path.insert(0, ROOT)

from invoke import Collection  # noqa: E402

from . import infra, sweeps  # noqa: E402

namespace = Collection.from_module(sweeps)
namespace.add_collection(Collection.from_module(infra))
