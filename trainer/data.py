"""Load and check the train and validation splits (.npz files from a path or ``gs://``)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from trainer import uri


class DataError(ValueError):
    """The input data cannot be trained on; the message names the file and the problem."""


@dataclass(frozen=True)
class Split:
    X: np.ndarray  # (rows, features) float32
    y: np.ndarray  # (rows,) float32 of 0.0 / 1.0


def load_split(location: str, kind: str) -> Split:
    """Read ``X_<kind>`` and ``y_<kind>`` from the .npz at ``location`` and check them."""
    try:
        raw = uri.read_bytes(location)
    except uri.ObjectNotFound as exc:
        raise DataError(str(exc)) from None
    try:
        arrays = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{location}: not a readable .npz file ({exc})") from None
    x_key, y_key = f"X_{kind}", f"y_{kind}"
    missing = [k for k in (x_key, y_key) if k not in arrays.files]
    if missing:
        raise DataError(f"{location}: missing array(s) {', '.join(missing)}; found {', '.join(arrays.files) or 'none'}")
    return _checked(location, arrays[x_key], arrays[y_key], x_key, y_key)


def _checked(location: str, X: np.ndarray, y: np.ndarray, x_key: str, y_key: str) -> Split:
    if X.ndim != 2:
        raise DataError(f"{location}: {x_key} must be 2-D (rows, features), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{location}: {y_key} must be 1-D, got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{location}: {x_key} has {X.shape[0]} rows but {y_key} has {y.shape[0]}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{location}: {x_key} is empty (shape {X.shape})")
    try:
        X = X.astype(np.float32, copy=False)
        y = y.astype(np.float32, copy=False)
    except (TypeError, ValueError):
        raise DataError(f"{location}: arrays must be numeric, got {X.dtype} and {y.dtype}") from None
    for key, arr in ((x_key, X), (y_key, y)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        if bad:
            raise DataError(f"{location}: {key} has {bad} non-finite value(s) (NaN or inf)")
    labels = np.unique(y)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise DataError(f"{location}: {y_key} must hold binary labels 0/1, found {labels[:5].tolist()}")
    return Split(np.ascontiguousarray(X), np.ascontiguousarray(y))


def check_pair(train: Split, val: Split, train_loc: str, val_loc: str) -> None:
    """Train and validation must describe the same features."""
    if train.X.shape[1] != val.X.shape[1]:
        raise DataError(
            f"{val_loc}: X_val has {val.X.shape[1]} features but {train_loc} X_train has {train.X.shape[1]}"
        )
