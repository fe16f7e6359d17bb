"""Invoke tasks: thin wrappers that parse flags and call into ``jobs``.

Heavy libraries (torch, pandas, aiplatform) are imported inside the tasks, so ``invoke --list``
and ``--help`` answer at once.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from invoke import Exit, task

DEFAULT_DATA = os.path.join("data", "default")
DEFAULT_SPEC = os.path.join("jobs", "specs", "titanic.yaml")


@task(help={
    "csv": "CSV file or gs:// object to prepare; default: the built-in dataset (scikit-learn breast_cancer)",
    "target": "the CSV's binary label column (required with --csv)",
    "out": f"folder or gs:// prefix to write train_data.npz, val_data.npz, prep.json (default {DEFAULT_DATA})",
    "features": "comma-separated feature columns; default: all but the target, identifiers and free text",
    "val_fraction": "share of rows held out for validation (0.2)",
    "seed": "seed of the train/validation split (42)",
})
def data(c, csv=None, target=None, out=DEFAULT_DATA, features=None, val_fraction="0.2", seed=42):
    """Prepare train/val .npz files for the trainer from a CSV or the built-in dataset."""
    from jobs.data import DataPrepError, prepare_to

    try:
        prepared, files = prepare_to(out, csv, target, features.split(",") if features else None,
                                     float(val_fraction), int(seed))
    except DataPrepError as exc:
        raise Exit(f"data: {exc}", code=2) from None
    recipe = prepared.recipe
    print(f"source: {recipe['source']}")
    print(f"target: {recipe['target']} (positive class {recipe['positive_class']!r})")
    print(f"features ({len(recipe['features'])}): {', '.join(s['column'] for s in recipe['features'])}")
    for column, why in prepared.dropped.items():
        print(f"dropped {column}: {why}")
    print(f"rows: {recipe['train_rows']} train, {recipe['val_rows']} validation")
    for path in files:
        print(f"wrote {path}")


@task(help={
    "data_root": f"folder or gs:// prefix with train_data.npz and val_data.npz (default {DEFAULT_DATA}, "
            "prepared from the built-in dataset when missing)",
    "out": "AIP_MODEL_DIR for the run: folder or gs:// prefix (default outputs/model)",
    "args": "extra trainer flags, quoted, e.g. --args='--learning_rate=1e-3 --hidden=128'",
})
def train(c, data_root=DEFAULT_DATA, out=os.path.join("outputs", "model"), args=""):
    """Run the trainer once (python -m trainer) on prepared data."""
    from trainer import uri

    if data_root == DEFAULT_DATA and not os.path.exists(os.path.join(DEFAULT_DATA, "train_data.npz")):
        data(c)
    command = [sys.executable, "-m", "trainer", f"--train={uri.join(data_root, 'train_data.npz')}",
               f"--val={uri.join(data_root, 'val_data.npz')}", *shlex.split(args)]
    status = subprocess.call(command, env={**os.environ, "AIP_MODEL_DIR": out})
    if status:
        raise Exit(code=status)


@task(help={
    "spec": f"sweep spec YAML (default {DEFAULT_SPEC}); see docs/sweep-spec.md",
    "backend": "local (default) or vertex",
    "trials": "override trials.max",
    "parallel": "override trials.parallel",
    "run_id": "name of the run (default <spec name>-<YYYYmmdd-HHMMSS>)",
    "smoke": "run one trial only: check the whole path before scaling up",
    "resume": "RUN_ID of a stopped or killed run to carry on to its end",
    "dry_run": "validate the spec and print the plan; run nothing",
    "data_root": f"what {{data}} in the trainer args expands to (default {DEFAULT_DATA}, built-in dataset)",
    "seed": "seed of the search algorithm",
    "trial_timeout": "seconds after which a trial is killed and marked FAILED",
})
def tune(c, spec=None, backend="local", trials=None, parallel=None, run_id=None, smoke=False, resume=None,
         dry_run=False, data_root=None, seed=None, trial_timeout=None):
    """Run a hyperparameter sweep described by a spec, with live progress; name the best trial."""
    from jobs.runs import RunError
    from jobs.spec import SpecError
    from jobs.tune import tune_local

    if backend != "local":
        raise Exit(f"tune: backend {backend!r} is not available yet; use --backend local", code=2)
    try:
        status = tune_local(spec, run_id=run_id, resume=resume, trials=_int(trials), parallel=_int(parallel),
                            smoke=smoke, dry_run=dry_run, data_root=data_root, seed=_int(seed),
                            trial_timeout=float(trial_timeout) if trial_timeout else None)
    except (SpecError, RunError) as exc:
        raise Exit(f"tune: {exc}", code=2) from None
    if status:
        raise Exit(code=status)


def _int(value) -> int | None:
    return None if value in (None, "") else int(value)
