"""The network: a multilayer perceptron that outputs one logit per row."""

from __future__ import annotations

from torch import nn


def layer_widths(hidden: int, layers: int) -> list[int]:
    """Hidden layer widths: ``hidden`` first, each next one half as wide (at least 4)."""
    return [max(4, hidden // 2**i) for i in range(layers)]


def build_mlp(n_features: int, hidden: int = 64, layers: int = 2, dropout: float = 0.0) -> nn.Sequential:
    """``hidden=64, layers=2`` is the 64-32-1 network of train_nn.py, the script this trainer replaces (without
    the final sigmoid)."""
    modules: list[nn.Module] = []
    width_in = n_features
    for width in layer_widths(hidden, layers):
        modules += [nn.Linear(width_in, width), nn.ReLU()]
        if dropout > 0:
            modules.append(nn.Dropout(dropout))
        width_in = width
    modules.append(nn.Linear(width_in, 1))
    return nn.Sequential(*modules)


def load_model(checkpoint: dict) -> nn.Sequential:
    """Rebuild a trained network from the dict saved as ``model.pt``."""
    model = build_mlp(**checkpoint["architecture"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
