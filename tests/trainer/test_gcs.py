"""gs:// input and output against gcp-storage-emulator with the real google-cloud-storage client."""

from __future__ import annotations

import json

from google.cloud import storage

from tests.support.helpers import run_trainer


def test_reads_and_writes_gcs(gcs_emulator, bucket, small_data):
    client = storage.Client()
    train, val = small_data
    client.bucket(bucket).blob("data/train_data.npz").upload_from_filename(str(train))
    client.bucket(bucket).blob("data/val_data.npz").upload_from_filename(str(val))
    model_dir = f"gs://{bucket}/artifacts/spec/run/3/model/"
    done = run_trainer([f"--train=gs://{bucket}/data/train_data.npz", f"--val=gs://{bucket}/data/val_data.npz",
                        "--epochs=5"], env={"AIP_MODEL_DIR": model_dir, "STORAGE_EMULATOR_HOST": gcs_emulator})
    assert done.returncode == 0, done.stderr
    names = sorted(b.name for b in client.list_blobs(bucket, prefix="artifacts/"))
    assert names == [f"artifacts/spec/run/3/model/{n}" for n in ("eval_history.csv", "metrics.json", "model.pt")]
    metrics = json.loads(client.bucket(bucket).blob("artifacts/spec/run/3/model/metrics.json").download_as_text())
    assert metrics["stopped_epoch"] == 5 and metrics["train_rows"] == 160
    assert f"artifacts: {model_dir}" in done.stdout


def test_missing_object_is_one_line(gcs_emulator, bucket, small_data):
    done = run_trainer([f"--train=gs://{bucket}/data/nope.npz", f"--val={small_data[1]}"],
                       env={"STORAGE_EMULATOR_HOST": gcs_emulator})
    assert done.returncode == 2
    assert done.stderr.strip() == f"trainer: error: gs://{bucket}/data/nope.npz: no such object"
