"""Defaults shared by the tasks and the library (no heavy imports, so `invoke --list` stays instant)."""

import os
from pathlib import Path

DEFAULT_SPEC = Path(__file__).parents[1] / "specs" / "breast-cancer.yaml"
DEFAULT_DATA = os.path.join("data", "default")  # the built-in dataset, prepared on first use


def ensure_default_data(data_root: str, console) -> None:
    """Prepare the built-in dataset into the default data folder when that is what is asked for and it is not there
    (jobs.data.prepare, with pandas, is loaded only then)."""
    if data_root == DEFAULT_DATA and not os.path.exists(os.path.join(DEFAULT_DATA, "train_data.npz")):
        from jobs.data.prepare import DEFAULT_DATASET, prepare_to

        console.print(f"preparing the built-in dataset into {DEFAULT_DATA}/: {DEFAULT_DATASET}")
        prepare_to(DEFAULT_DATA)
