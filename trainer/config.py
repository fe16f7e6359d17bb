"""The hyperparameters of one training run (torch-free, so flags parse before torch loads)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OPTIMIZERS = ("adam", "adamw", "sgd")
# Every metric the trainer reports to the tuner each epoch (cloudml-hypertune). Vertex AI reads only those
# reports, so a sweep of this trainer can rank by these and no others.
ACCURACY, LOSS = "validation_accuracy", "validation_loss"
REPORTED_METRICS = (ACCURACY, LOSS)
# Set by the Vertex AI backend on trials that have GPUs ("<count>x<accelerator type>").
ACCELERATOR_ENV = "SWEEPS_ACCELERATOR"


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of one training run (the trainer's command-line flags)."""

    epochs: int = 1000
    learning_rate: float = 1e-4
    patience: int = 10
    min_delta: float = 1e-3
    restore_best: bool = True
    seed: int = 42
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "adam"
    momentum: float = 0.9
    batch_size: int = 0  # 0: the whole training split in one batch

    def as_dict(self) -> dict:
        return asdict(self)
