"""What a report knows of one trial before reading its files, and where those records come from.

Two sources feed the same collector: a local run folder (the trials in its Optuna study) and a
Vertex AI run (trials from the tuning job, artifacts under ``gs://<bucket>/artifacts/<spec>/<run_id>/``).
"""

from __future__ import annotations

import dataclasses

from jobs import storage
from jobs.runs import RunFolder
from jobs.spec import Spec
from jobs.trials import BOOKKEEPING, TrialRecord, trial_order
from trainer import uri

def local_records(folder: RunFolder, spec: Spec) -> list[TrialRecord]:
    """Every trial of a local run (a running sweep's unfinished trials as ACTIVE), in id order."""
    if not folder.journal.exists():
        return []
    from jobs.local.backend import load_run_study, views

    try:
        study = load_run_study(folder, spec.name)
    except KeyError:  # the sweep has not created its study yet
        return []
    records = [r for r in views(study) if r.state not in BOOKKEEPING]
    return sorted(records, key=lambda r: trial_order(r.trial_id))


def under_artifacts_base(records: list[TrialRecord], artifacts_base: str) -> list[TrialRecord]:
    """The records with ``artifact_dir`` set to ``<artifacts_base>/<trial_id>`` (Vertex's layout)."""
    return [dataclasses.replace(r, artifact_dir=uri.join(artifacts_base, r.trial_id))
            for r in records if r.state not in BOOKKEEPING]


def discover_trial_ids(artifacts_base: str) -> list[str]:
    """Trial ids that have a folder under the artifacts base, in id order (one listing call per
    1,000 trials on GCS)."""
    return sorted(storage.list_folders(artifacts_base), key=trial_order)
