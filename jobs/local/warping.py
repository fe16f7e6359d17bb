"""The output warping the adaptive search's Gaussian process fits: the objective values, turned so that the worse
half does not dominate the model and the differences among the best values count.

It is the transformation of OSS Vizier's default output warper (google-vizier 0.1.24,
vizier/_src/algorithms/designers/gp/output_warpers.py: ``create_default_warper``, a half-rank component then a
log component), the one its GP-UCB-PE designer fits: bench/search.py measured it on Optuna's GP
(docs/decisions.md#adaptive-search-a-gp-on-warped-values-over-every-parameter).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

LOG_OFFSET = 1.5  # Vizier's LogWarperComponent.offset


def half_rank(values: np.ndarray) -> np.ndarray:
    """Values below the median (greater is better) replaced by normal quantiles of their rank, scaled by the
    spread of the better half: a few very bad trials no longer stretch the model's scale."""
    median = float(np.median(values))
    distinct = np.unique(values)
    below = int(distinct.searchsorted(median, "left"))
    denominator = below + 0.5 * (distinct[below] == median)
    spread = _spread(distinct, median)
    ranks = stats.rankdata(values, method="dense")
    quantiles = stats.norm.ppf(0.5 * (ranks - 0.5) / denominator)
    return np.where(values < median, quantiles * spread + median, values)


def _spread(distinct: np.ndarray, median: float) -> float:
    """The root mean square distance to the median of the better half, of all values when that is 0."""
    for part in (distinct[distinct >= median], distinct):
        spread = float(np.sqrt(np.mean((part - median) ** 2)))
        if spread > 0:
            return spread
    return 1.0


def log_warp(values: np.ndarray) -> np.ndarray:
    """Values mapped onto [-0.5, 0.5] (greater is better) on a log scale that widens the gaps near the best."""
    low, high = values.min(), values.max()
    if high == low:
        return np.zeros_like(values)
    gap = (high - values) / (high - low)
    return 0.5 - np.log1p(gap * (LOG_OFFSET - 1)) / np.log(LOG_OFFSET)


def warp(values: np.ndarray) -> np.ndarray:
    """Both warpings, in Vizier's order, of values where greater is better; an infinite value counts as the
    best or worst finite one."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    return log_warp(half_rank(np.clip(values, finite.min(), finite.max())))
