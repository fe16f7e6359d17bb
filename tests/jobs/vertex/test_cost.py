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
    hourly = (prices.machines["n1-standard-8"] + 2 * prices.accelerators["NVIDIA_TESLA_T4"]
              + 100 * prices.disks["pd-ssd"])
    assert estimate.hourly == pytest.approx(hourly)
    assert estimate.total == pytest.approx(12 * 0.5 * hourly)
    assert estimate.notes == []
    text = estimate.text()
    assert f"up to {12 * 0.5 * hourly:.2f} USD = 12 trials x 30 min" in text
    assert "100 GB x 0.000268 pd-ssd boot disk" in text
    assert "prices of us-central1 as of 2025-06-01" in text
    assert "NVIDIA_TESLA_T4: Compute Engine price per GPU (billing catalog, 2026-07-30) x 1.15" in text
    assert "n1-standard-8: Vertex AI pricing page as transcribed on 2025-06-01" in text


@pytest.mark.parametrize("machine, accelerator, count", [
    ("n1-standard-4", "NVIDIA_TESLA_T4", 1), ("n1-standard-8", "NVIDIA_TESLA_V100", 4),
    ("a2-highgpu-1g", "NVIDIA_TESLA_A100", 1), ("a2-ultragpu-8g", "NVIDIA_A100_80GB", 8),
    ("g2-standard-24", "NVIDIA_L4", 2), ("a3-highgpu-8g", "NVIDIA_H100_80GB", 8),
    ("a3-megagpu-8g", "NVIDIA_H100_MEGA_80GB", 8), ("a3-ultragpu-8g", "NVIDIA_H200_141GB", 8),
])
def test_every_gpu_family_the_checker_allows_is_priced_with_its_source(machine, accelerator, count):
    gpu = spec(vertex={"machine_type": machine, "accelerator_type": accelerator, "accelerator_count": count})
    estimate = estimate_cost(gpu, load_prices(), today=TODAY)
    assert estimate.total is not None, estimate.text()
    assert f"{machine}: " in estimate.text() and f"{accelerator}: " in estimate.text()


def test_the_h100_comes_from_the_vertex_page():
    prices = load_prices()
    assert prices.accelerators["NVIDIA_H100_80GB"] == 9.79655057
    assert prices.origins["NVIDIA_H100_80GB"].startswith("Vertex AI pricing page")


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
    mine.write_text("as_of: 2025-06-30\nregion: europe-west4\nsources: {quote: our quote of 2025-06-30}\n"
                    "machines: {z9-mega-1: 2.0, n1-standard-4: {usd: 1.0, source: quote}}\ndisks: {pd-ssd: 0}\n")
    prices = load_prices(mine)
    assert (prices.machines["z9-mega-1"], prices.machines["n1-standard-4"]) == (2.0, 1.0)
    assert prices.origins["n1-standard-4"] == "our quote of 2025-06-30"
    assert prices.machines["n1-standard-8"] == load_prices().machines["n1-standard-8"]
    assert (prices.as_of, prices.region) == (dt.date(2025, 6, 30), "europe-west4")
    assert estimate_cost(spec(vertex={"machine_type": "z9-mega-1"}), prices, 60, today=TODAY).total == 24.0
    broken = tmp_path / "broken.yaml"
    broken.write_text("machines: {n1-standard-4: cheap}\n")
    with pytest.raises(PriceError, match="broken.yaml"):
        load_prices(broken)
    broken.write_text("machines: {n1-standard-4: {usd: 1, source: nope}}\n")
    with pytest.raises(PriceError, match="source 'nope' is not one of sources .vertex, host, gpu, disk."):
        load_prices(broken)
