"""Reading a spec file: size-limited, as safe YAML (no duplicate keys, no alias bombs), then validated.

``load_spec`` reads and checks a file, ``parse_spec`` an already-loaded mapping, and ``load_runnable_spec`` also
checks that the reference trainer reports the metric. Each raises one ``SpecError`` with every problem found.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path

import yaml
from pydantic import ValidationError

from jobs.spec.base import show
from jobs.spec.messages import SpecError, translate
from jobs.spec.model import Spec
from jobs.trial.command import unreported_metric

MAX_SPEC_BYTES = 1_000_000
MAX_NODES = 100_000  # values a spec may expand to; aliases of aliases ("billion laughs") would go far past it


class _Loader(yaml.SafeLoader):
    """Safe YAML that reads ``1e-4`` as a number (as YAML 1.2 does) and rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                              list("-+.0123456789"))


class _TooBig(ValueError):
    """A document that expands past MAX_NODES values."""


def _load_yaml(text: str) -> object:
    """The document, once its expanded size (aliases counted each time they are used) is known to be small."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        sizes: dict[int, int] = {}

        def size(node: yaml.Node) -> int:
            if id(node) not in sizes:
                sizes[id(node)] = 1  # a node that contains itself counts once
                children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
                    else node.value if isinstance(node, yaml.SequenceNode) else []
                sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(size(child) for child in children))
            return sizes[id(node)]

        if size(root) > MAX_NODES:
            raise _TooBig(f"the YAML expands to more than {MAX_NODES:,} values (aliases of aliases?); write the "
                          "values out")
        return loader.construct_document(root)
    finally:
        loader.dispose()


def load_runnable_spec(path: str | Path) -> Spec:
    """``load_spec``, and the metric must be one the trainer reports when it is the reference trainer (a
    check on what runs, not on the file's shape: a test may point the command elsewhere)."""
    spec = load_spec(path)
    if why := unreported_metric(spec.trainer.command, spec.metric.id):
        raise SpecError(str(path), [("metric.id", why)])
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; SpecError names the file, the field and the reason."""
    source = str(path)
    try:
        with open(path, "rb") as file:  # read, not stat: a device or a FIFO has no size until read
            raw = file.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            raise SpecError(source, [("", f"the file holds more than {MAX_SPEC_BYTES:,} bytes, the most a spec "
                                          "may: is it the spec?")])
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(source, [("", "cannot read the file: it is not UTF-8 text")]) from None
    except OSError as exc:
        raise SpecError(source, [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        data = _load_yaml(text)
    except _TooBig as exc:
        raise SpecError(source, [("", str(exc))]) from None
    except RecursionError:
        raise SpecError(source, [("", "the YAML is nested too deeply to be a spec")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(source, [(where, f"YAML syntax error: {getattr(exc, 'problem', None) or exc}")]) from None
    return parse_spec(data, source)


def parse_spec(data: object, source: str) -> Spec:
    """Validate an already-loaded mapping; ``source`` names the file in messages."""
    if not isinstance(data, dict):
        raise SpecError(source, [("", "expected a mapping with name, metric, parameters and trials, "
                                      f"got {show(data)}")])
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, translate(exc)) from None
