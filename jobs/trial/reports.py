"""A trial's reported metric values: read from its hypertune file or its printed lines.

The hypertune file holds JSON lines such as
``{"validation_accuracy": "0.8", "global_step": "12", "timestamp": ..., "trial": "3"}``; the library
keeps the last 100 and rewrites the file on each report, so readers poll it and merge what they see.
Trainers without hypertune may print ``<metric>: <value>`` lines instead.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Reports:
    """Every value seen for one metric, by step; later sightings of a step replace earlier ones."""

    metric: str
    by_step: dict[int, float] = field(default_factory=dict)
    printed: list[float] = field(default_factory=list)

    def merge_hypertune(self, text: str) -> None:
        for line in text.splitlines():
            try:
                row = json.loads(line)
                value = float(row[self.metric])
                step = int(float(row.get("global_step", 0)))
            except (ValueError, KeyError, TypeError):
                continue  # a line of another metric, or half a line caught mid-write
            if math.isfinite(value):
                self.by_step[step] = value

    def merge_printed(self, text: str) -> None:
        """Take ``<metric>: <value>`` lines from a chunk of output (call with new text only)."""
        pattern = re.compile(rf"^\s*{re.escape(self.metric)}\s*[:=]\s*([-+0-9.eEinfa]+)\s*$", re.M)
        for match in pattern.finditer(text):
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            if math.isfinite(value):
                self.printed.append(value)

    def series(self) -> list[tuple[int, float]]:
        """(step, value) in step order; printed values only when the file had none."""
        if self.by_step:
            return sorted(self.by_step.items())
        return list(enumerate(self.printed, start=1))

    def measure(self, how: str, goal: str) -> float | None:
        """The value that counts: the ``best`` by goal or the ``last`` reported; None if none."""
        series = self.series()
        if not series:
            return None
        values = [v for _, v in series]
        if how == "last":
            return values[-1]
        return max(values) if goal == "maximize" else min(values)


class FileTail:
    """Reads what was appended to a growing file since the last call, a bounded chunk at a time."""

    CHUNK = 1 << 20  # read at most this much per call
    LONGEST_LINE = 1 << 16  # a partial line longer than this is taken as it is (no metric line is that long)

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0

    def read_new(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read(self.CHUNK)
        except FileNotFoundError:
            return ""
        cut = data.rfind(b"\n") + 1  # keep a partial last line for next time ...
        if not cut and len(data) >= self.LONGEST_LINE:
            cut = len(data)  # ... unless output without newlines would be read again and again
        self._offset += cut
        return data[:cut].decode("utf-8", "replace")


def read_whole(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def log_tail(path: Path, lines: int = 20, max_bytes: int = 4000) -> str:
    """The last lines of a trial's log, at most ``max_bytes`` of it, for error reports (what the run's journal
    keeps; the whole log stays in the trial's folder)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - max_bytes))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return ("..." + tail) if size > max_bytes else tail
