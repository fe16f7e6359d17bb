"""A run's Optuna journal after a fault: torn lines found, set aside (kept), and the rest read as usual.

The journal is JSON lines, each appended and fsynced whole (optuna.storages.journal.JournalFileBackend). A
full disk or a power cut can leave half a line at the end; the next append then glues a whole line onto
it, and Optuna stops at that line for good. Each damaged line is split: the whole record that ends it (a
record starts with ``{"op_code"``) stays, the torn bytes before it go to ``study.journal.torn-<time>``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from jobs.runs import write_atomically

RECORD_START = b'{"op_code"'


def split_torn(data: bytes) -> tuple[bytes, bytes]:
    """(the journal's whole records, the torn bytes set aside), from the journal's bytes."""
    kept, torn = [], []
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or half a record
    if tail:
        torn.append(tail)
    for line in lines:
        if _whole(line):
            kept.append(line)
            continue
        start = line.rfind(RECORD_START)
        if start > 0 and _whole(line[start:]):
            torn.append(line[:start])
            kept.append(line[start:])
        elif line:
            torn.append(line)
    return b"".join(k + b"\n" for k in kept), b"\n".join(torn)


def _whole(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def repair(path: Path) -> Path | None:
    """Set the torn bytes of the journal at ``path`` aside, beside it, and rewrite it whole (atomically); returns
    the file holding the torn bytes, or None when there were none. Call it only while holding the run's lock."""
    if not path.exists():
        return None
    good, torn = split_torn(path.read_bytes())
    if not torn:
        return None
    aside = path.with_name(f"{path.name}.torn-{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}")
    with open(aside, "wb") as handle:
        handle.write(torn)
        handle.flush()
        os.fsync(handle.fileno())
    write_atomically(path, good.decode("utf-8", "replace"))
    return aside
