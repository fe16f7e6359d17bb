"""What a report knows of one trial before reading its files, and where those records come from.

Two sources feed the same collector: a local run folder (the trials in its Optuna study) and a
Vertex AI run (trials from the tuning job, artifacts under ``gs://<bucket>/artifacts/<spec>/<run_id>/``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from jobs import storage
from jobs.runs import RunFolder
from jobs.spec import Spec
from trainer import uri

BOOKKEEPING = ("RESTARTED", "INTERRUPTED")  # a trial re-run as a new trial: the new one is reported
UNFINISHED = ("ACTIVE", "REQUESTED", "STOPPING")  # local running trials; Vertex also queues and stops


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the tuner saw it. ``artifact_dir`` is the trial's output base (``<base>/<id>``);
    its ``model/`` folder is AIP_MODEL_DIR. ``started`` (epoch seconds) orders the trials in time;
    ``step`` is the last step the trial reported."""

    trial_id: str
    state: str
    objective: float | None = None
    parameters: dict[str, object] = field(default_factory=dict)
    duration_s: float | None = None
    artifact_dir: str = ""
    reason: str = ""
    started: float | None = None
    step: int | None = None

    @property
    def model_dir(self) -> str:
        return uri.join(self.artifact_dir, "model")


def trial_order(trial_id: str) -> tuple[int, int | str]:
    """Sort key: numeric ids by number, any others after them by name."""
    return (0, int(trial_id)) if trial_id.isdigit() else (1, trial_id)


def local_records(folder: RunFolder, spec: Spec) -> list[TrialRecord]:
    """Every trial of a local run (a running sweep's unfinished trials as ACTIVE), in id order."""
    study_file = folder.root / "study.db"
    if not study_file.exists():
        return []
    import optuna

    from jobs.local.backend import views

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=spec.name, storage=folder.study_url)
    except KeyError:  # the sweep has not created its study yet
        return []
    records = [TrialRecord(trial_id=v.trial_id, state=v.state, objective=v.value, parameters=dict(v.assignment),
                           duration_s=v.duration_s, artifact_dir=str(folder.artifact_dir(v.trial_id).resolve()),
                           reason=v.reason, started=v.started, step=v.step)
               for v in views(study) if v.state not in BOOKKEEPING]
    return sorted(records, key=lambda r: trial_order(r.trial_id))


def under_artifacts_base(records: list[TrialRecord], artifacts_base: str) -> list[TrialRecord]:
    """The records with ``artifact_dir`` set to ``<artifacts_base>/<trial_id>`` (Vertex's layout)."""
    return [dataclasses.replace(r, artifact_dir=uri.join(artifacts_base, r.trial_id))
            for r in records if r.state not in BOOKKEEPING]


def discover_trial_ids(artifacts_base: str) -> list[str]:
    """Trial ids that have a folder under the artifacts base, in id order (one listing call per
    1,000 trials on GCS)."""
    return sorted(storage.list_folders(artifacts_base), key=trial_order)
