"""Adam, AdamW and SGD with momentum, computed as torch.optim computes them.

torch.optim's optimizers import torch._dynamo the first time one is built or stepped: 1.4 s of a
3.5 s trial started as a fresh process here, more than all its epochs. These few lines do the same
arithmetic without that import; tests/trainer/test_optim.py holds them to torch.optim step by step.
"""

from __future__ import annotations

import torch

BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8


class Optimizer:
    """``step()`` after ``backward()``; ``zero_grad()`` before the next one."""

    def __init__(self, params, kind: str, lr: float, weight_decay: float = 0.0, momentum: float = 0.0):
        if kind not in ("adam", "adamw", "sgd"):
            raise ValueError(f"unknown optimizer {kind!r}")
        self.params = [p for p in params if p.requires_grad]
        self.kind, self.lr, self.weight_decay, self.momentum = kind, lr, weight_decay, momentum
        self.steps = 0
        self.state: list[tuple[torch.Tensor, ...] | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p, p.grad)

    def _update(self, i: int, p: torch.Tensor, grad: torch.Tensor) -> None:
        if self.kind == "sgd":
            if self.weight_decay:
                grad = grad.add(p, alpha=self.weight_decay)
            if self.momentum:
                if self.state[i] is None:
                    self.state[i] = (torch.clone(grad).detach(),)
                else:
                    self.state[i][0].mul_(self.momentum).add_(grad)
                grad = self.state[i][0]
            p.add_(grad, alpha=-self.lr)
            return
        if self.kind == "adamw":
            p.mul_(1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            grad = grad.add(p, alpha=self.weight_decay)
        if self.state[i] is None:
            self.state[i] = (torch.zeros_like(p), torch.zeros_like(p))
        exp_avg, exp_avg_sq = self.state[i]
        beta1, beta2 = BETAS
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1 ** self.steps)
        denom = (exp_avg_sq.sqrt() / (1 - beta2 ** self.steps) ** 0.5).add_(EPS)
        p.addcdiv_(exp_avg, denom, value=-step_size)
