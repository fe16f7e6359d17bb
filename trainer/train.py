"""The training loop: full-batch or mini-batch, early stopping on validation loss."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.data import Split
from trainer.model import build_mlp
from trainer.optim import Optimizer


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float


@dataclass
class FitResult:
    model: nn.Sequential
    history: list[EpochRecord]
    best_epoch: int
    best_val_loss: float
    stopped_epoch: int
    final_val_loss: float
    final_val_accuracy: float
    final_val_auc: float  # ROC AUC and F1 (threshold 0.5) of the final model: measured once, not per epoch
    final_val_f1: float
    early_stopped: bool
    diverged: bool
    interrupted: bool  # asked to stop (SIGTERM) and stopped after the epoch it was in
    seconds: float
    architecture: dict = field(default_factory=dict)


EpochCallback = Callable[[EpochRecord], None]


def _optimizer(config: TrainConfig, params) -> Optimizer:
    momentum = config.momentum if config.optimizer == "sgd" else 0.0
    return Optimizer(params, config.optimizer, config.learning_rate, config.weight_decay, momentum)


def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn) -> tuple[float, float]:
    model.eval()
    with torch.inference_mode():
        logits = model(X).squeeze(1)
        loss = loss_fn(logits, y)
        accuracy = ((logits > 0).to(y.dtype) == y).to(torch.float32).mean()
        values = torch.stack([loss, accuracy]).tolist()
    return values[0], values[1]


def _ranking(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """ROC AUC (the Mann-Whitney statistic, ties counted half) and F1 of the positive class at 0.5;
    NaN where a split holds one class only (AUC) or no positive is predicted or present (F1)."""
    model.eval()
    with torch.inference_mode():
        scores = model(X).squeeze(1).double().cpu()
    labels = y.cpu().bool()
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) and len(negatives):
        above = (positives[:, None] > negatives[None, :]).double().sum()
        ties = (positives[:, None] == negatives[None, :]).double().sum()
        auc = float((above + 0.5 * ties) / (len(positives) * len(negatives)))
    else:
        auc = float("nan")
    predicted = scores > 0
    true_positive = float((predicted & labels).sum())
    denominator = float(predicted.sum() + labels.sum())
    return auc, (2 * true_positive / denominator if denominator else float("nan"))


def fit(config: TrainConfig, train: Split, val: Split, device: torch.device,
        on_epoch: EpochCallback | None = None, should_stop: Callable[[], bool] | None = None) -> FitResult:
    """Train until ``epochs`` or until validation loss has not improved by more than
    ``min_delta`` for ``patience`` epochs; restore the weights of the lowest-loss epoch if asked, so the
    model kept is the one whose loss the tuner ranks by (``measurement: best`` on validation_loss).

    ``on_epoch`` sees every epoch with finite metrics; a run whose validation loss becomes
    NaN or infinite stops there with ``diverged`` set. ``should_stop`` is asked after each epoch:
    True ends training there with ``interrupted`` set (the tuner stopped the trial)."""
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    architecture = {"n_features": int(train.X.shape[1]), "hidden": config.hidden,
                    "layers": config.layers, "dropout": config.dropout}
    model = build_mlp(**architecture).to(device)
    optimizer = _optimizer(config, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    Xtr, ytr = torch.from_numpy(train.X).to(device), torch.from_numpy(train.y).to(device)
    Xva, yva = torch.from_numpy(val.X).to(device), torch.from_numpy(val.y).to(device)
    rows = Xtr.shape[0]
    batch = rows if config.batch_size <= 0 else min(config.batch_size, rows)
    shuffle = torch.Generator().manual_seed(config.seed)

    history: list[EpochRecord] = []
    best_val, best_epoch, best_state, waited, diverged, interrupted = float("inf"), 0, None, 0, False, False
    reference = float("inf")  # the loss an epoch must beat by more than min_delta to reset patience
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(rows, generator=shuffle).to(device) if batch < rows else None
        total = torch.zeros((), device=device)
        for start in range(0, rows, batch):
            idx = order[start:start + batch] if order is not None else slice(None)
            optimizer.zero_grad()
            loss = loss_fn(model(Xtr[idx]).squeeze(1), ytr[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach() * (min(start + batch, rows) - start)
        val_loss, val_acc = _evaluate(model, Xva, yva, loss_fn)
        record = EpochRecord(epoch, float(total) / rows, val_loss, val_acc)
        history.append(record)
        if not math.isfinite(val_loss):
            diverged = True
            break
        if on_epoch is not None:
            on_epoch(record)
        if val_loss < best_val:  # the lowest loss: the epoch a tuner's "best" measurement picks, and the one kept
            best_val, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if reference - val_loss > config.min_delta:
            reference, waited = val_loss, 0
        else:
            waited += 1
            if waited >= config.patience:
                break
        if should_stop is not None and should_stop():
            interrupted = True
            break

    stopped_epoch = history[-1].epoch
    if config.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    final_loss, final_acc = _evaluate(model, Xva, yva, loss_fn)
    final_auc, final_f1 = _ranking(model, Xva, yva)
    return FitResult(
        model=model, history=history, best_epoch=best_epoch, best_val_loss=best_val,
        stopped_epoch=stopped_epoch, final_val_loss=final_loss, final_val_accuracy=final_acc,
        final_val_auc=final_auc, final_val_f1=final_f1, early_stopped=stopped_epoch < config.epochs,
        diverged=diverged, interrupted=interrupted, seconds=time.perf_counter() - started, architecture=architecture,
    )
