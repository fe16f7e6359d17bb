"""Fixtures of the jobs tests: a console whose output a test reads, and the Vertex AI stand-in."""

from __future__ import annotations

import pytest
from rich.console import Console


@pytest.fixture
def console(tmp_path) -> Console:
    """``console.file`` is a text file; ``read(console)`` (tests/support/vertex.py) gives what was printed."""
    return Console(file=open(tmp_path / "console.txt", "w+"), width=200, force_terminal=False)


@pytest.fixture
def vertex(tmp_path):
    """The stand-in running the toy trainer as each trial's container."""
    from tests.support.vertex import SERVED, TOY
    from tests.support.vertex_standin import VertexStandIn

    with VertexStandIn(tmp_path / "vertex", entrypoint=TOY, today=SERVED) as standin:
        yield standin
