"""The output warping the adaptive search's GP fits (jobs/local/warping.py)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from jobs.local.warping import warp

VALUES = np.array([-300.0, -50.0, -10.0, -1.0, -0.5, -0.41, -7.0, -0.45])  # greater is better


def test_the_order_holds_and_the_values_span_minus_a_half_to_a_half():
    warped = warp(VALUES)
    assert list(np.argsort(warped)) == list(np.argsort(VALUES))
    assert warped.min() == -0.5 and warped.max() == 0.5


def test_a_very_bad_value_does_not_squeeze_the_good_ones_together():
    """Standardized, the best three values sit within 0.01 of each other when one trial is a million worse;
    warped, they keep a tenth of the scale between them."""
    values = np.array([-1e6, -30.0, -20.0, -3.0, -2.0, -1.0])
    standardized = (values - values.mean()) / values.std()
    assert np.ptp(standardized[-3:]) < 0.01
    assert np.ptp(warp(values)[-3:]) > 0.1


def test_an_infinite_value_counts_as_the_worst_or_best_finite_one():
    warped = warp(np.array([-np.inf, -2.0, -1.0, np.inf]))
    assert np.isfinite(warped).all()
    assert warped[0] == warped[1] and warped[2] == warped[3]
    assert list(warp(np.array([np.inf, np.inf]))) == [0.0, 0.0]


@pytest.mark.skipif(importlib.util.find_spec("vizier") is None,
                    reason="the vizier extra is not installed (pip install -e '.[vizier]')")
def test_it_is_the_warping_vizier_fits():
    """Vizier's pipeline ends with a shift of every value (its infeasible-value component), which the GP's
    standardization takes off: the same values once centred."""
    from vizier._src.algorithms.designers.gp import output_warpers

    theirs = output_warpers.create_default_warper().warp(VALUES.copy()[:, np.newaxis])[:, 0]
    ours = warp(VALUES)
    assert np.allclose(ours - ours.mean(), theirs - theirs.mean())
