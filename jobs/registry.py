"""Which backends there are, by name: the built-in ones, and those an installed package declares as an entry point in
the group ``sweeps.backends`` (``name = "module:Class"``). A leaf that imports no backend: the spec asks it which
sections a spec may hold, jobs/backends.py which class to load (docs/architecture.md, "How to add a backend")."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

BUILT_IN = {"local": "jobs.local.backend:LocalBackend", "vertex": "jobs.vertex.backend:VertexBackend"}
ENTRY_POINTS = "sweeps.backends"
HOW_TO_ADD = ("a backend is a package plus one entry in jobs.registry.BUILT_IN or in the entry point group "
              f"{ENTRY_POINTS}: docs/architecture.md, \"How to add a backend\"")


@cache
def registered() -> dict[str, str]:
    """Every backend by name (``module:Class``): the built-in ones, then those installed packages declare."""
    return {**BUILT_IN, **{ep.name: ep.value for ep in entry_points(group=ENTRY_POINTS)}}


def section_names() -> tuple[str, ...]:
    """The keys a spec may hold beside its own: one section per backend, named for it (``vertex:``)."""
    return tuple(registered())
