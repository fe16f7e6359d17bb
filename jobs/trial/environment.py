"""What a trial process receives from the platform besides its command line, and how it is told to stop.

The variables are Vertex AI's (``CustomJobSpec.baseOutputDirectory``: "AIP_MODEL_DIR =
<base_output_directory>/<trial_id>/model/", and the same for checkpoints and logs) and cloudml-hypertune's
(``CLOUD_ML_TRIAL_ID``, ``CLOUD_ML_HP_METRIC_FILE``, which Google's pages do not list); a local trial gets the
same ones, under its run folder. docs/trainer-contract.md is the page a trainer's author reads.
"""

from __future__ import annotations

import os

MODEL_DIR = "AIP_MODEL_DIR"  # where the trial writes metrics.json and eval_history.csv (artifacts.py)
CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
TENSORBOARD_DIR = "AIP_TENSORBOARD_LOG_DIR"
TRIAL_ID = "CLOUD_ML_TRIAL_ID"
METRIC_FILE = "CLOUD_ML_HP_METRIC_FILE"  # the hypertune file the trial's reports go to (reports.py)
THREADS = "OMP_NUM_THREADS"  # a local trial's share of the CPUs
ACCELERATOR_ENV = "SWEEPS_ACCELERATOR"  # "<count>x<type>" when a trial has GPUs: without a CUDA device, refuse to run
# Seconds a trial stopped early or past its timeout has between SIGTERM and SIGKILL, to save its work and exit.
# Vertex AI documents no such grace; 10 s fits a trainer that stops after its current epoch.
STOP_GRACE_S = 10
# argparse's words (exit status 2) for a flag the trainer does not know: every trial would fail the same way.
UNRECOGNIZED = "unrecognized arguments"


def output_dirs(base: str, trial_id: str) -> dict[str, str]:
    """The trial's output folders under ``base`` (a folder or a gs:// prefix), as Vertex AI derives them."""
    root = f"{base.rstrip('/')}/{trial_id}"
    return {MODEL_DIR: f"{root}/model/", CHECKPOINT_DIR: f"{root}/checkpoints/", TENSORBOARD_DIR: f"{root}/logs/"}


def trial_environment(base: str, trial_id: str, metric_file: str, parallel: int | None = None) -> dict[str, str]:
    """The variables a trial gets: its output folders, its id, its hypertune file and, where trials share this
    machine's CPUs (``parallel`` at once), its share of them."""
    env = {**output_dirs(base, trial_id), TRIAL_ID: trial_id, METRIC_FILE: metric_file}
    if parallel is not None:
        env[THREADS] = str(max(1, (os.cpu_count() or 1) // parallel))
    return env
