"""Logistic regression with an L2 penalty, trained by full-batch gradient descent.

    python -m logistic_trainer.task --train=DATA/train_data.npz --val=DATA/val_data.npz \
        [--epochs=200] [--learning_rate=0.1] [--l2=0.001]

Reads X_train/y_train and X_val/y_val (.npz, a local path or gs://), reports validation_loss and
validation_accuracy each epoch through cloudml-hypertune, and writes metrics.json to AIP_MODEL_DIR
(a local folder or gs://; "." when unset).
"""

from __future__ import annotations

import argparse
import io
import json
import os

import hypertune
import numpy as np


def read(location: str) -> bytes:
    if location.startswith("gs://"):
        from google.cloud import storage

        return storage.Blob.from_uri(location, client=storage.Client()).download_as_bytes()
    with open(location, "rb") as f:
        return f.read()


def write(folder: str, name: str, data: bytes) -> None:
    if folder.startswith("gs://"):
        from google.cloud import storage

        storage.Blob.from_uri(folder.rstrip("/") + "/" + name, client=storage.Client()).upload_from_string(data)
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def load(location: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = np.load(io.BytesIO(read(location)), allow_pickle=False)
    return arrays[f"X_{kind}"].astype(np.float64), arrays[f"y_{kind}"].astype(np.float64).ravel()


def loss_and_accuracy(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    p = np.clip(1 / (1 + np.exp(-(X @ w + b))), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), float(np.mean((p > 0.5) == (y > 0.5)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--l2", type=float, default=1e-3)
    args = parser.parse_args(argv)
    X, y = load(args.train, "train")
    X_val, y_val = load(args.val, "val")
    w, b = np.zeros(X.shape[1]), 0.0
    tuner = hypertune.HyperTune()
    best = (float("inf"), 0)
    for epoch in range(1, args.epochs + 1):
        error = 1 / (1 + np.exp(-(X @ w + b))) - y
        w -= args.learning_rate * (X.T @ error / len(y) + args.l2 * w)
        b -= args.learning_rate * float(error.mean())
        val_loss, val_accuracy = loss_and_accuracy(w, b, X_val, y_val)
        tuner.report_hyperparameter_tuning_metric("validation_loss", val_loss, global_step=epoch)
        tuner.report_hyperparameter_tuning_metric("validation_accuracy", val_accuracy, global_step=epoch)
        best = min(best, (val_loss, epoch))
    metrics = {"final_val_loss": val_loss, "final_val_accuracy": val_accuracy, "best_val_loss": best[0],
               "best_epoch": best[1], "stopped_epoch": args.epochs, "learning_rate": args.learning_rate,
               "l2": args.l2}
    write(os.environ.get("AIP_MODEL_DIR", "."), "metrics.json", json.dumps(metrics, indent=2).encode())


if __name__ == "__main__":
    main()
