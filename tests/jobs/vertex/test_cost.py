"""The cost estimate: trials x minutes x hourly prices from the dated table, a user's file over it."""

from __future__ import annotations

import datetime as dt

import pytest

from jobs.spec import parse_spec
from jobs.vertex.cost import PriceError, estimate_cost, load_prices

TODAY = dt.date(2025, 7, 1)


def spec(**changes):
    return parse_spec({"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 12, "parallel": 3},
                       "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, **changes}, "s.yaml")


def test_machine_and_accelerators_per_trial_hour():
    prices = load_prices()
    gpu = spec(vertex={"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2})
    estimate = estimate_cost(gpu, prices, minutes_per_trial=30, region="us-central1", today=TODAY)
    hourly = prices.machines["n1-standard-8"] + 2 * prices.accelerators["NVIDIA_TESLA_T4"]
    assert estimate.hourly == pytest.approx(hourly)
    assert estimate.total == pytest.approx(12 * 0.5 * hourly)
    assert estimate.notes == []
    assert f"up to {12 * 0.5 * hourly:.2f} USD = 12 trials x 30 min" in estimate.text()
    assert "prices of us-central1 as of 2025-06-01" in estimate.text()


def test_grid_counts_its_points_and_other_regions_and_old_prices_are_noted():
    estimate = estimate_cost(spec(algorithm="grid"), load_prices(), 10, region="europe-west4",
                             today=dt.date(2027, 1, 1))
    assert estimate.trials == 4  # the grid has 4 points, below max 12
    assert any("europe-west4" in note for note in estimate.notes)
    assert any("days old" in note for note in estimate.notes)


def test_unknown_machine_is_named_not_guessed():
    estimate = estimate_cost(spec(vertex={"machine_type": "z9-mega-1"}), load_prices(), today=TODAY)
    assert estimate.total is None
    assert "no price for machine type 'z9-mega-1'" in estimate.text()


def test_a_user_file_overrides_and_extends_the_table(tmp_path):
    mine = tmp_path / "prices.yaml"
    mine.write_text("as_of: 2025-06-30\nregion: europe-west4\nmachines: {z9-mega-1: 2.0, n1-standard-4: 1.0}\n")
    prices = load_prices(mine)
    assert (prices.machines["z9-mega-1"], prices.machines["n1-standard-4"]) == (2.0, 1.0)
    assert prices.machines["n1-standard-8"] == load_prices().machines["n1-standard-8"]
    assert (prices.as_of, prices.region) == (dt.date(2025, 6, 30), "europe-west4")
    assert estimate_cost(spec(vertex={"machine_type": "z9-mega-1"}), prices, 60, today=TODAY).total == 24.0
    broken = tmp_path / "broken.yaml"
    broken.write_text("machines: {n1-standard-4: cheap}\n")
    with pytest.raises(PriceError, match="broken.yaml"):
        load_prices(broken)
