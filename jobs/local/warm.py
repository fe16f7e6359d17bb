"""Preloaded once by the backend's fork server, so trials of the reference trainer start warm.

A fresh Python process pays about 1.5 s here before its first epoch: importing torch, then the first
call of every operator on the training path. A short training run on made-up data, one thread (no
OpenMP pool to break in the forks), pays all of that once; each forked trial finds it done. So does
reading a split from an .npz file (zipfile, numpy.ma) and serialising a checkpoint (torch's
serialization config): about 20 ms of imports a trial would otherwise pay.

The optimizers need nothing more: they step through torch.optim's functional API, which imports no
torch._dynamo (trainer/optim.py says why), so the fits below leave a trial's optimizer nothing to load.
tests/trainer/test_warm_preload.py checks that a trial run after this imports no module at all.
"""

import gc
import os
import tempfile

import numpy as np
import torch

import trainer.cli
import trainer.metrics  # noqa: F401
from trainer import artifacts
from trainer.config import TrainConfig
from trainer.data import Split, load_split
from trainer.train import fit

torch.set_num_threads(1)
with tempfile.TemporaryDirectory() as _folder:
    _path = os.path.join(_folder, "train_data.npz")
    np.savez(_path, X_train=np.zeros((8, 2), dtype=np.float32), y_train=np.array([0, 1] * 4, dtype=np.float32))
    _split = load_split(_path, "train")
for _optimizer in ("adam", "adamw", "sgd"):
    for _batch in (0, 4):
        _config = TrainConfig(epochs=2, optimizer=_optimizer, batch_size=_batch, dropout=0.1)
        _result = fit(_config, _split, Split(_split.X, _split.y), torch.device("cpu"))
artifacts.checkpoint_bytes(_result, _config)

# Everything loaded so far lives as long as the server: keep it out of the collector's reach, so a
# fork's collections do not touch (and copy) the pages it shares with the server.
gc.freeze()
