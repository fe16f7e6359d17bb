"""What a run leaves in ``AIP_MODEL_DIR``: model.pt, metrics.json and eval_history.csv."""

from __future__ import annotations

import io
import json
import math

import torch

from trainer import uri
from trainer.config import TrainConfig
from trainer.train import FitResult


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def metrics_record(config: TrainConfig, result: FitResult, rows: tuple[int, int], device: str) -> dict:
    """The metrics.json body: train_nn.py's keys (the script this trainer replaces), every hyperparameter, sizes
    and timing."""
    history = result.history
    finite_acc = [r.val_accuracy for r in history if math.isfinite(r.val_loss)]
    return {
        "final_val_accuracy": _finite_or_none(result.final_val_accuracy),
        "final_val_loss": _finite_or_none(result.final_val_loss),
        "final_val_auc": _finite_or_none(result.final_val_auc),
        "final_val_f1": _finite_or_none(result.final_val_f1),
        "best_val_loss": _finite_or_none(result.best_val_loss),
        "best_val_accuracy": max(finite_acc) if finite_acc else None,
        "best_epoch": result.best_epoch,
        "stopped_epoch": result.stopped_epoch,
        "early_stopped": result.early_stopped,
        "stopped_by": "SIGTERM" if result.interrupted else None,  # the tuner (Vertex AI early stopping) ended it
        "diverged": result.diverged,
        **config.as_dict(),
        "n_features": result.architecture["n_features"],
        "train_rows": rows[0],
        "val_rows": rows[1],
        "device": device,
        "train_seconds": round(result.seconds, 4),
    }


def history_csv(result: FitResult) -> str:
    lines = ["epoch,train_loss,val_loss,val_accuracy"]
    lines += [f"{r.epoch},{r.train_loss:.6g},{r.val_loss:.6g},{r.val_accuracy:.6g}" for r in result.history]
    return "\n".join(lines) + "\n"


def checkpoint_bytes(result: FitResult, config: TrainConfig) -> bytes:
    """model.pt: the weights with what ``trainer.model.load_model`` needs to rebuild the network."""
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"architecture": result.architecture, "state_dict": state, "config": config.as_dict()}, buffer)
    return buffer.getvalue()


def write_all(model_dir: str, config: TrainConfig, result: FitResult, metrics: dict) -> None:
    uri.write_bytes(uri.join(model_dir, "model.pt"), checkpoint_bytes(result, config))
    uri.write_text(uri.join(model_dir, "eval_history.csv"), history_csv(result), content_type="text/csv")
    uri.write_text(uri.join(model_dir, "metrics.json"), json.dumps(metrics, indent=2) + "\n",
                   content_type="application/json")
