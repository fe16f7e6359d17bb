"""Defaults shared by the tasks and the library (no imports, so `invoke --list` stays instant)."""

import os
from pathlib import Path

DEFAULT_SPEC = Path(__file__).parent / "specs" / "breast-cancer.yaml"
DEFAULT_DATA = os.path.join("data", "default")  # the built-in dataset, prepared on first use
