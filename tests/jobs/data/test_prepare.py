"""Data preparation: train_nn.py's Titanic recipe without the leak, any CSV, local or gs://."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from jobs.data import prepare as data
from tests.support.helpers import invoke
from trainer.data import load_split

LESSON_FEATURES = ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]


def test_titanic_matches_the_lesson_split_with_train_only_statistics(titanic_csv, tmp_path):
    frame = pd.read_csv(titanic_csv)
    prepared, files = data.prepare_to(str(tmp_path), str(titanic_csv), "Survived")
    recipe = prepared.recipe
    assert [s["column"] for s in recipe["features"]] == LESSON_FEATURES
    assert set(prepared.dropped) == {"PassengerId", "Name", "Ticket", "Cabin"}
    assert (recipe["train_rows"], recipe["val_rows"]) == (569, 143)

    # The same rows as train_nn.py's train_test_split(test_size=0.2, random_state=42).
    _, val_rows = train_test_split(frame, test_size=0.2, random_state=42)
    assert np.array_equal(prepared.y_val, val_rows["Survived"].to_numpy(np.float32))

    # Statistics come from the training rows only.
    train_rows, _ = train_test_split(frame, test_size=0.2, random_state=42)
    steps = {s["column"]: s for s in recipe["features"]}
    assert steps["Age"]["fill"] == train_rows["Age"].median() != frame["Age"].median()
    assert steps["Sex"]["categories"] == ["female", "male"]
    assert steps["Embarked"]["fill"] == "S"
    assert np.allclose(prepared.X_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(prepared.X_train.std(axis=0), 1, atol=1e-3)
    assert not np.allclose(prepared.X_val.mean(axis=0), 0, atol=1e-3)

    assert [p.rsplit("/", 1)[-1] for p in files] == ["train_data.npz", "val_data.npz", "prep.json"]
    train = load_split(str(tmp_path / "train_data.npz"), "train")
    assert train.X.shape == (569, 7) and train.X.dtype == np.float32
    assert json.loads((tmp_path / "prep.json").read_text())["positive_class"] == "1"


def test_built_in_dataset_needs_no_network(tmp_path):
    prepared, _ = data.prepare_to(str(tmp_path))
    assert prepared.X_train.shape == (455, 30) and prepared.X_val.shape == (114, 30)
    assert set(np.unique(prepared.y_train)) == {0.0, 1.0}
    assert load_split(str(tmp_path / "val_data.npz"), "val").X.shape == (114, 30)


def test_text_target_and_unseen_category(tmp_path):
    rows = 50
    frame = pd.DataFrame({
        "colour": ["red", "blue"] * (rows // 2),
        "size": np.arange(rows, dtype=float) * 1.5,
        "label": ["yes", "no", "no", "yes", "no"] * (rows // 5),
    })
    frame.loc[0, "size"] = np.nan
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    prepared = data.prepare(frame, "label", str(csv), seed=1)
    assert prepared.recipe["classes"] == ["no", "yes"] and prepared.recipe["positive_class"] == "yes"
    train_idx, val_idx = train_test_split(np.arange(rows), test_size=0.2, random_state=1)
    assert np.array_equal(prepared.y_train, (frame.loc[train_idx, "label"] == "yes").to_numpy(np.float32))
    # the missing size is the training rows' median (not all rows')
    colour, size = prepared.recipe["features"]
    assert size["fill"] == frame.loc[train_idx, "size"].median() != frame["size"].median()
    X, at = (prepared.X_train, list(train_idx).index(0)) if 0 in train_idx else (prepared.X_val, list(val_idx).index(0))
    assert X[at, 1] * size["scale"] + size["mean"] == pytest.approx(size["fill"], abs=1e-4)
    # A value seen only in validation is encoded as the training mode.
    frame.loc[frame.index[-1], "colour"] = "green"
    other = data.prepare(frame, "label", str(csv), val_fraction=0.5, seed=1)
    _, val_idx = train_test_split(np.arange(rows), test_size=0.5, random_state=1)
    colour = other.recipe["features"][0]
    assert rows - 1 in val_idx and "green" not in colour["categories"]
    green = other.X_val[list(val_idx).index(rows - 1), 0] * colour["scale"] + colour["mean"]
    assert green == pytest.approx(colour["categories"].index(colour["fill"]), abs=1e-4)
    assert colour["fill"] == frame.loc[np.setdiff1d(np.arange(rows), val_idx), "colour"].mode()[0]


@pytest.mark.parametrize("frame, target, features, message", [
    (pd.DataFrame({"a": [1, 2] * 10, "b": [0, 1] * 10}), "y", None, "t.csv: no target column 'y'; columns are a, b"),
    (pd.DataFrame({"a": [1, 2, 3] * 10, "y": [0, 1, 2] * 10}), "y", None,
     "t.csv: target column 'y' must have exactly 2 classes, found 3"),
    (pd.DataFrame({"a": [1, 2] * 10, "y": [0, 1] * 10}), "y", ["a", "z"], "t.csv: no column(s) z"),
    (pd.DataFrame({"id": range(40), "y": [0, 1] * 20}), "y", None,
     "t.csv: no usable feature columns besides target 'y'"),
])
def test_bad_tables_are_named(frame, target, features, message):
    with pytest.raises(data.DataPrepError) as info:
        data.prepare(frame, target, "t.csv", features)
    assert str(info.value).startswith(message)


def test_bad_csv_sources(tmp_path):
    with pytest.raises(data.DataPrepError, match="nope.csv: no such file"):
        data.prepare_to(str(tmp_path), str(tmp_path / "nope.csv"), "y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(data.DataPrepError, match="empty.csv: not a readable CSV"):
        data.prepare_to(str(tmp_path), str(tmp_path / "empty.csv"), "y")
    with pytest.raises(data.DataPrepError, match="--target is required"):
        data.prepare_to(str(tmp_path), str(tmp_path / "empty.csv"), None)


def test_csv_from_and_splits_to_gcs(gcs_emulator, bucket, titanic_csv):
    from google.cloud import storage

    client = storage.Client()
    client.bucket(bucket).blob("raw/titanic.csv").upload_from_filename(str(titanic_csv))
    _, files = data.prepare_to(f"gs://{bucket}/data", f"gs://{bucket}/raw/titanic.csv", "Survived")
    assert files[0] == f"gs://{bucket}/data/train_data.npz"
    assert sorted(b.name for b in client.list_blobs(bucket, prefix="data/")) == [
        "data/prep.json", "data/train_data.npz", "data/val_data.npz"]
    assert load_split(f"gs://{bucket}/data/val_data.npz", "val").X.shape == (143, 7)


def test_an_infinite_cell_and_too_few_rows_are_one_clear_error(tmp_path):
    rows = ["a,b,y"] + [f"{i},{i % 3},{i % 2}" for i in range(30)]
    rows[4] = "inf,1,1"
    (tmp_path / "inf.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "two.csv").write_text("a,y\n1,0\n2,1\n")
    for name, says in (("inf.csv", "column 'a' holds 1 infinite value(s) (CSV line 5)"),
                       ("two.csv", "2 labelled rows; at least 20 are needed")):
        done = invoke("data", "--csv", str(tmp_path / name), "--target", "y", "--out", str(tmp_path / "out"),
                      timeout=120)
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
