"""``invoke data``: tabular data to the trainer's train_data.npz and val_data.npz.

The preparation is that of train_nn.py, the script the reference trainer replaces (label-encoded categoricals,
median-filled numerics, standardised features, 80/20 split with a fixed seed) with one fix: every statistic
(medians, modes, category codes, scaler) is fitted on the training split only, so nothing leaks from
validation.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jobs.cloud import storage
from jobs.errors import UserError

DEFAULT_DATASET = "scikit-learn breast_cancer (Wisconsin diagnostic, 569 rows, 30 features)"
MIN_ROWS = 20  # labelled rows a CSV needs: 20% held out is then at least 4 rows
MAX_CATEGORIES = 20


class DataPrepError(UserError, ValueError):
    """The table cannot be prepared; the message names the source, the column and the reason."""


@dataclass
class Prepared:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    recipe: dict
    dropped: dict[str, str] = field(default_factory=dict)


def default_frame() -> tuple[pd.DataFrame, str]:
    """The built-in dataset, shipped inside scikit-learn (no network needed)."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame, "target"


def read_csv(location: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(storage.read_bytes(location)))
    except storage.ObjectNotFound as exc:
        raise DataPrepError(str(exc)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataPrepError(f"{location}: not a readable CSV ({exc})") from None
    if frame.empty:
        raise DataPrepError(f"{location}: no rows")
    return frame


def _binary_target(source: str, column: pd.Series) -> tuple[np.ndarray, list]:
    values = sorted(column.dropna().unique().tolist(), key=str)
    if len(values) != 2:
        shown = ", ".join(map(str, values[:6]))
        raise DataPrepError(
            f"{source}: target column {column.name!r} must have exactly 2 classes, found {len(values)} ({shown})")
    if set(values) == {0, 1}:
        values = [0, 1]
    return (column == values[1]).to_numpy(dtype=np.float32), values


def _pick_features(source: str, frame: pd.DataFrame, target: str,
                   features: list[str] | None) -> tuple[list[str], dict[str, str]]:
    if features:
        unknown = [f for f in features if f not in frame.columns]
        if unknown:
            raise DataPrepError(f"{source}: no column(s) {', '.join(unknown)}; columns are {', '.join(frame.columns)}")
        return list(features), {}
    chosen, dropped = [], {}
    for name in frame.columns:
        column = frame[name]
        if name == target:
            continue
        if pd.api.types.is_integer_dtype(column) and column.is_unique:
            dropped[name] = "identifier (every value distinct)"
        elif not pd.api.types.is_numeric_dtype(column) and column.nunique() > MAX_CATEGORIES:
            dropped[name] = f"text with {column.nunique()} distinct values (more than {MAX_CATEGORIES})"
        elif column.isna().all():
            dropped[name] = "empty"
        else:
            chosen.append(name)
    if not chosen:
        raise DataPrepError(f"{source}: no usable feature columns besides target {target!r}")
    return chosen, dropped


def prepare(frame: pd.DataFrame, target: str, source: str, features: list[str] | None = None,
            val_fraction: float = 0.2, seed: int = 42) -> Prepared:
    """Encode, fill, split and scale ``frame`` for binary classification of ``target``."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if target not in frame.columns:
        raise DataPrepError(f"{source}: no target column {target!r}; columns are {', '.join(map(str, frame.columns))}")
    if not 0 < val_fraction < 1:
        raise DataPrepError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise DataPrepError(f"{source}: {len(frame)} labelled rows; at least {MIN_ROWS} are needed, so that the "
                            "validation split can tell trials apart")
    y, classes = _binary_target(source, frame[target])
    names, dropped = _pick_features(source, frame, target, features)
    for name in names:
        if pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
            infinite = np.flatnonzero(np.isinf(frame[name].astype(float).to_numpy()))
            if len(infinite):
                rows = ", ".join(str(i + 2) for i in infinite[:5]) + (", ..." if len(infinite) > 5 else "")
                raise DataPrepError(f"{source}: column {name!r} holds {len(infinite)} infinite value(s) (CSV line "
                                    f"{rows}): replace them with a number or leave the cells empty (filled with the "
                                    "median)")
    train_idx, val_idx = train_test_split(np.arange(len(frame)), test_size=val_fraction, random_state=seed)
    train_rows, val_rows = frame.iloc[train_idx], frame.iloc[val_idx]

    columns_train, columns_val, steps = [], [], []
    for name in names:
        fit_on = train_rows[name]
        if pd.api.types.is_numeric_dtype(fit_on) or pd.api.types.is_bool_dtype(fit_on):
            fill = float(fit_on.astype(float).median()) if fit_on.notna().any() else 0.0
            encode = lambda col, fill=fill: col.astype(float).fillna(fill).to_numpy()
            steps.append({"column": name, "kind": "numeric", "fill": fill})
        else:
            text = fit_on.dropna().astype(str)
            mode = text.mode().iloc[0] if len(text) else ""
            categories = sorted(set(text) | {mode})
            codes = {c: i for i, c in enumerate(categories)}
            encode = lambda col, codes=codes, mode=mode: (
                col.astype("string").fillna(mode).map(lambda v: codes.get(v, codes[mode])).to_numpy(dtype=float))
            steps.append({"column": name, "kind": "categorical", "fill": mode, "categories": categories})
        columns_train.append(encode(train_rows[name]))
        columns_val.append(encode(val_rows[name]))

    scaler = StandardScaler().fit(np.column_stack(columns_train))
    X_train = scaler.transform(np.column_stack(columns_train)).astype(np.float32)
    X_val = scaler.transform(np.column_stack(columns_val)).astype(np.float32)
    for step, mean, scale in zip(steps, scaler.mean_, scaler.scale_):
        step.update(mean=float(mean), scale=float(scale))
    recipe = {
        "source": source, "target": target, "classes": [str(c) for c in classes], "positive_class": str(classes[1]),
        "features": steps, "dropped": dropped, "val_fraction": val_fraction, "seed": seed,
        "train_rows": len(train_idx), "val_rows": len(val_idx),
    }
    return Prepared(X_train, y[train_idx], X_val, y[val_idx], recipe, dropped)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write(prepared: Prepared, out: str) -> list[str]:
    """Write train_data.npz, val_data.npz and prep.json (the recipe) under ``out``."""
    files = {
        "train_data.npz": _npz(X_train=prepared.X_train, y_train=prepared.y_train),
        "val_data.npz": _npz(X_val=prepared.X_val, y_val=prepared.y_val),
        "prep.json": (json.dumps(prepared.recipe, indent=2) + "\n").encode(),
    }
    written = []
    for name, data in files.items():
        target = storage.join(out, name)
        storage.write_bytes(target, data)
        written.append(target)
    return written


def prepare_to(out: str, csv: str | None = None, target: str | None = None,
               features: list[str] | None = None, val_fraction: float = 0.2,
               seed: int = 42) -> tuple[Prepared, list[str]]:
    """Prepare ``csv`` (or the built-in dataset when ``csv`` is None) and write it under ``out``."""
    if csv is None:
        frame, default_target = default_frame()
        source = DEFAULT_DATASET
        target = target or default_target
    else:
        if not target:
            raise DataPrepError(f"{csv}: --target is required with --csv")
        frame, source = read_csv(csv), csv
    prepared = prepare(frame, target, source, features, val_fraction, seed)
    return prepared, write(prepared, out)
