"""trainer.optim computes what torch.optim computes, without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from trainer.model import build_mlp
from trainer.optim import Optimizer


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


@pytest.mark.parametrize("kind, weight_decay, momentum, reference", [
    ("adam", 0.0, 0.0, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam", 0.01, 0.0, lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01)),
    ("adamw", 0.05, 0.0, lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05)),
    ("sgd", 0.0, 0.9, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd", 0.001, 0.0, lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.001)),
])
def test_same_steps_as_torch_optim(kind, weight_decay, momentum, reference):
    lr = 0.05 if kind == "sgd" else 0.01
    ours = _trajectory(lambda p: Optimizer(p, kind, lr, weight_decay, momentum))
    theirs = _trajectory(reference)
    for mine, expected in zip(ours, theirs):
        torch.testing.assert_close(mine, expected, rtol=1e-5, atol=1e-6)
    untrained = _trajectory(lambda p: Optimizer(p, kind, lr, weight_decay, momentum), steps=0)
    assert not torch.allclose(ours[0], untrained[0])  # it did move


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        Optimizer([torch.zeros(1, requires_grad=True)], "lbfgs", 0.1)


def test_a_trial_never_imports_torch_dynamo(small_data, tmp_path):
    train, val = small_data
    code = ("import sys; from trainer.cli import main; "
            f"code = main(['--train={train}', '--val={val}', '--epochs=3', '--optimizer=adamw']); "
            "print(code, 'torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"AIP_MODEL_DIR": str(tmp_path / "m"), "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hp"),
                               "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip().splitlines()[-1] == "0 False", done.stderr
