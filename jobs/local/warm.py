"""Preloaded once by the backend's forkserver, so trials of the reference trainer start warm.

A fresh Python process pays about 2.8 s here before the first epoch: torch, then torch._dynamo,
which the first optimizer built imports. Each forked trial finds all of that done.
"""

import torch

import trainer.artifacts  # noqa: F401
import trainer.cli  # noqa: F401
import trainer.data  # noqa: F401
import trainer.metrics  # noqa: F401
import trainer.train  # noqa: F401

torch.optim.Adam([torch.zeros(1, requires_grad=True)])
