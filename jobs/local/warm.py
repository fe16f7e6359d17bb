"""Preloaded once by the backend's fork server, so trials of the reference trainer start warm.

A fresh Python process pays about 1.5 s here before its first epoch: importing torch, then the first
call of every operator on the training path. A short training run on made-up data, one thread (no
OpenMP pool to break in the forks), pays all of that once; each forked trial finds it done.
"""

import gc

import numpy as np
import torch

import trainer.artifacts  # noqa: F401
import trainer.cli  # noqa: F401
import trainer.metrics  # noqa: F401
from trainer.config import TrainConfig
from trainer.data import Split
from trainer.train import fit

torch.set_num_threads(1)
_X = np.zeros((8, 2), dtype=np.float32)
_y = np.array([0, 1] * 4, dtype=np.float32)
for _optimizer in ("adam", "adamw", "sgd"):
    for _batch in (0, 4):
        fit(TrainConfig(epochs=2, optimizer=_optimizer, batch_size=_batch, dropout=0.1), Split(_X, _y), Split(_X, _y),
            torch.device("cpu"))

# Everything loaded so far lives as long as the server: keep it out of the collector's reach, so a
# fork's collections do not touch (and copy) the pages it shares with the server.
gc.freeze()
