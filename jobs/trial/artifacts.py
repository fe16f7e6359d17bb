"""What a trial leaves in its model folder (AIP_MODEL_DIR) for the platform to read, on either backend:
``metrics.json`` (its final metrics, one JSON object) and ``eval_history.csv`` (one row per epoch)."""

from __future__ import annotations

import json

from jobs.cloud import storage

METRICS_FILE = "metrics.json"
MAX_METRICS_BYTES = 1_000_000
HISTORY_FILE = "eval_history.csv"


def parse_metrics(fetched: bytes | Exception) -> tuple[dict, str]:
    """A metrics.json body as a dict, or ({}, why it cannot be used); one over MAX_METRICS_BYTES is not read."""
    if isinstance(fetched, storage.ObjectNotFound):
        return {}, f"{METRICS_FILE} missing"
    if isinstance(fetched, Exception):
        return {}, f"{METRICS_FILE} unreadable: {fetched}"
    if len(fetched) > MAX_METRICS_BYTES:
        return {}, (f"{METRICS_FILE} is {len(fetched) / 1e6:.1f} MB; files over {MAX_METRICS_BYTES // 1_000_000} MB "
                    "are not read (metrics belong there, not data)")
    try:
        metrics = json.loads(fetched)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{METRICS_FILE} corrupt: {exc}"
    if not isinstance(metrics, dict):
        return {}, f"{METRICS_FILE} corrupt: expected a JSON object, got {type(metrics).__name__}"
    return metrics, ""
