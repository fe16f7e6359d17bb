"""The cost estimate: trials x minutes x hourly prices from the dated table, a user's file over it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from jobs.cloud.cost import CeilingError, trial_timeout
from jobs.spec import parse_spec
from jobs.vertex.cost import PriceError, estimate_cost, load_prices
from jobs.vertex.resources import check
from tests.support.helpers import invoke
from tests.support.vertex import write_outputs, write_spec

TODAY = dt.date(2025, 7, 1)


def spec(**changes):
    """A spec checked as the Vertex AI backend checks it."""
    data = {"name": "s", "metric": {"id": "m", "goal": "maximize"}, "trials": {"max": 12, "parallel": 3},
            "parameters": {"k": {"type": "integer", "min": 1, "max": 4}}, **changes}
    return check(parse_spec(data, "s.yaml"), "s.yaml")


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
                    "machines: {z9-mega-1: 2.0, n1-standard-4: {usd: 1.0, source: quote}}\ndisks: {pd-ssd: 0.001}\n")
    prices = load_prices(mine)
    assert (prices.machines["z9-mega-1"], prices.machines["n1-standard-4"]) == (2.0, 1.0)
    assert prices.origins["n1-standard-4"] == "our quote of 2025-06-30"
    assert prices.machines["n1-standard-8"] == load_prices().machines["n1-standard-8"]
    assert (prices.as_of, prices.region) == (dt.date(2025, 6, 30), "europe-west4")
    total = estimate_cost(spec(vertex={"machine_type": "z9-mega-1"}), prices, 60, today=TODAY).total
    assert total == pytest.approx(12 * (2.0 + 100 * 0.001))
    broken = tmp_path / "broken.yaml"
    broken.write_text("machines: {n1-standard-4: cheap}\n")
    with pytest.raises(PriceError, match="broken.yaml"):
        load_prices(broken)
    broken.write_text("machines: {n1-standard-4: {usd: 1, source: nope}}\n")
    with pytest.raises(PriceError, match="source 'nope' is not one of sources .vertex, host, gpu, disk."):
        load_prices(broken)
    broken.write_text("machines: {n1-standard-4: {usd: 1, source: [vertex]}}\n")
    with pytest.raises(PriceError, match=r"n1-standard-4 is .*: source \['vertex'\] is not one of sources"):
        load_prices(broken)


@pytest.mark.parametrize("section, row, written", [
    ("machines", "n1-standard-4", "-1"), ("machines", "n1-standard-4", "0"),
    ("accelerators", "NVIDIA_TESLA_T4", ".nan"), ("disks", "pd-ssd", ".inf"), ("machines", "n1-standard-8", "cheap"),
    ("machines", "n1-standard-8", "true"), ("machines", "n1-standard-4", "{usd: -0.5, source: vertex}"),
    ("machines", "n1-standard-4", "{source: vertex}"), ("machines", "n1-standard-4", "[1]"),
])
def test_a_price_that_is_not_a_finite_positive_number_is_refused_naming_its_row(tmp_path, section, row, written):
    mine = tmp_path / "prices.yaml"
    mine.write_text(f"{section}: {{{row}: {written}}}\n")
    with pytest.raises(PriceError) as refused:
        load_prices(mine)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"price table {mine}: {section}.{row} is ") and "finite number above 0" in message


def test_the_repository_table_holds_only_finite_positive_prices():
    prices = load_prices()
    every = [*prices.machines.values(), *prices.accelerators.values(), *prices.disks.values()]
    assert every and all(0 < price < float("inf") for price in every)


@pytest.mark.parametrize("price", ["-1", ".nan"])
def test_invoke_tune_refuses_a_price_file_with_a_bad_price_in_one_line(tmp_path, price):
    write_spec(tmp_path / "spec.yaml", trials={"max": 3, "parallel": 1, "max_cost": 5})
    write_outputs(tmp_path / "outputs.json")
    (tmp_path / "prices.yaml").write_text(f"machines: {{n1-standard-4: {price}}}\n")
    done = invoke("tune", "--backend", "vertex", "--spec", "spec.yaml", "--outputs", "outputs.json", "--prices",
                  "prices.yaml", "--dry-run", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"tune: price table prices.yaml: machines.n1-standard-4 is {price.strip('.')}: a price must be a finite "
        "number above 0 (per hour; per GB-hour under disks); correct the row or remove it"], done.stderr
    assert "estimated cost" not in done.stdout


def test_a_ceiling_gives_each_trial_the_timeout_it_pays_for_when_every_trial_runs_to_it():
    capped = spec(trials={"max": 12, "parallel": 3, "max_cost": 6.0})
    estimate = estimate_cost(capped, load_prices(), today=TODAY)
    allowed = math.floor(6.0 / (12 * estimate.hourly) * 3600)
    assert trial_timeout(capped, estimate, None, 60) == allowed
    assert 12 * allowed / 3600 * estimate.hourly <= 6.0 < 12 * (allowed + 1) / 3600 * estimate.hourly
    assert trial_timeout(capped, estimate, 100, 60) == 100  # --trial-timeout, shorter, stays
    assert trial_timeout(capped, estimate, allowed + 1, 60) == allowed
    rich = spec(trials={"max": 12, "parallel": 3, "max_cost": 1e6})
    assert trial_timeout(rich, estimate_cost(rich, load_prices(), today=TODAY), None, 60) == 7 * 24 * 3600
    uncapped = spec()
    assert trial_timeout(uncapped, estimate_cost(uncapped, load_prices(), today=TODAY), 100, 60) == 100
    assert trial_timeout(uncapped, estimate_cost(uncapped, load_prices(), today=TODAY), None, 60) is None


def test_a_ceiling_that_pays_less_than_the_shortest_timeout_is_refused_saying_what_to_change():
    capped = spec(trials={"max": 12, "parallel": 3, "max_cost": 0.01})
    estimate = estimate_cost(capped, load_prices(), minutes_per_trial=0.01, today=TODAY)
    with pytest.raises(CeilingError) as refused:
        trial_timeout(capped, estimate, None, 60)
    fits = math.floor(0.01 * 3600 / (60 * estimate.hourly))
    assert str(refused.value) == (
        f"trials.max_cost 0.01 USD pays each of the 12 trials (trials.max) only "
        f"{math.floor(0.01 / (12 * estimate.hourly) * 3600)} s of n1-standard-4 at {estimate.hourly:.4f} USD/h, "
        f"under the 60 s a trial's timeout needs at the least: raise max_cost to "
        f"{math.ceil(12 * 60 * estimate.hourly / 3600 * 1e5) / 1e5:g} USD (--max-cost), or lower trials.max to "
        f"{fits} (--trials {fits})")
    alone = spec(trials={"max": 1, "max_cost": 0.001})
    with pytest.raises(CeilingError, match="or pick a cheaper vertex.machine_type$"):
        trial_timeout(alone, estimate_cost(alone, load_prices(), minutes_per_trial=0.01, today=TODAY), None, 60)


def test_invoke_tune_refuses_a_ceiling_that_pays_a_trial_less_than_a_minute(tmp_path):
    write_spec(tmp_path / "spec.yaml", trials={"max": 3, "parallel": 1, "max_cost": 0.001})
    write_outputs(tmp_path / "outputs.json")
    done = invoke("tune", "--backend", "vertex", "--spec", "spec.yaml", "--outputs", "outputs.json",
                  "--minutes-per-trial", "0.01", "--dry-run", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("tune: trials.max_cost 0.001 USD pays each of the 3 trials (trials.max) only 4 s of "
                           "n1-standard-4 at 0.2453 USD/h, under the 60 s a trial's timeout needs at the least: "), line


def test_a3_ultra_and_a4_boot_disks_are_priced_as_hyperdisk_balanced_their_default():
    """DiskSpec.bootDiskType: pd-ssd, "hyperdisk-balanced is the default for a3-ultragpu-8g and a4-highgpu-8g"."""
    prices = load_prices()
    ultra = spec(vertex={"machine_type": "a3-ultragpu-8g", "accelerator_type": "NVIDIA_H200_141GB",
                         "accelerator_count": 8})
    estimate = estimate_cost(ultra, prices, minutes_per_trial=60, today=TODAY)
    assert estimate.hourly == pytest.approx(prices.machines["a3-ultragpu-8g"] + 8 * prices.accelerators[
        "NVIDIA_H200_141GB"] + 100 * prices.disks["hyperdisk-balanced"])
    text = estimate.text()
    assert "100 GB x 0.000126 hyperdisk-balanced boot disk" in text and "pd-ssd" not in text
    assert "hyperdisk-balanced: Hyperdisk Balanced provisioned space" in text and "capacity only" in text
    a4 = spec(vertex={"machine_type": "a4-highgpu-8g", "accelerator_type": "NVIDIA_B200", "accelerator_count": 8})
    bare = dataclasses.replace(prices, disks={d: p for d, p in prices.disks.items() if d != "hyperdisk-balanced"})
    assert "no price for the hyperdisk-balanced boot disk in the table" in estimate_cost(a4, bare, today=TODAY).text()
