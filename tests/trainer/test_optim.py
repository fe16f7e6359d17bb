"""The trainer's optimizer is the torch.optim optimizer its config names, step for step, without
importing torch._dynamo (trainer/optim.py says why)."""

from __future__ import annotations

import pytest
import torch

from trainer.config import TrainConfig
from trainer.model import build_mlp
from trainer.optim import Optimizer
from trainer.train import _optimizer


def _trajectory(make, steps: int = 40) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = build_mlp(6, hidden=16, layers=2)
    X, y = torch.randn(64, 6), (torch.rand(64) > 0.5).float()
    optimizer = make(model.parameters())
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(X).squeeze(1), y).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


# fused=True: trainer/optim.py asks for torch's fused implementation (one kernel per step).
@pytest.mark.parametrize("settings, expected", [
    ({}, lambda p: torch.optim.Adam(p, lr=1e-4, fused=True)),  # the trainer's defaults
    ({"learning_rate": 0.01, "momentum": 0.5},  # momentum is SGD's only
     lambda p: torch.optim.Adam(p, lr=0.01, fused=True)),
    ({"learning_rate": 0.01, "weight_decay": 0.01},
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01, fused=True)),
    # AdamW's own default weight_decay is 0.01: the trainer's 0.0 must reach it.
    ({"optimizer": "adamw", "learning_rate": 0.01},
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.0, fused=True)),
    ({"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.05},
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, fused=True)),
    ({"optimizer": "sgd", "learning_rate": 0.05},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, fused=True)),
    ({"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.0, "weight_decay": 0.001},
     lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.001, fused=True)),
])
def test_config_steps_as_the_torch_optim_optimizer_it_names(settings, expected):
    config = TrainConfig(**settings)
    ours = _trajectory(lambda p: _optimizer(config, p))
    theirs = _trajectory(expected)
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.equal(mine, reference)  # the same arithmetic: bit for bit
    untrained = _trajectory(expected, steps=0)
    assert not torch.equal(ours[0], untrained[0])  # it did move


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        Optimizer([torch.zeros(1, requires_grad=True)], "lbfgs", 0.1)
