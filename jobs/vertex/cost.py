"""What a Vertex AI sweep may cost: trials x expected hours per trial x (machine + accelerators + boot disk)
per hour. The ceiling it is held to is jobs/cloud/cost.py's.

Prices come from the dated table ``jobs/vertex/prices.yaml`` (us-central1), which a user file may override
entry by entry. The estimate says which prices it used, where each came from and how old they are, and
names any machine or accelerator the table lacks instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from jobs.errors import UserError
from jobs.run.budget import planned_trials
from jobs.spec.base import show
from jobs.vertex.machines import boot_disk
from jobs.vertex.resources import VertexResources, VertexSpec

PRICES = Path(__file__).resolve().parent / "prices.yaml"
DEFAULT_MINUTES_PER_TRIAL = 10.0
STALE_DAYS = 365
SECTIONS = ("machines", "accelerators", "disks")
# vertex.scheduling values priced apart, each with its own machines and accelerators; their boot disks cost as
# standard ones (an assumption: the Spot VMs pricing page discounts "machine types, GPUs, TPUs, and Local SSDs", not
# persistent disks, and Vertex AI's pages say nothing of disks under Spot or flex-start)
SCHEDULES = {"spot": "Spot", "flex_start": "flex-start"}
SCHEDULED = ("machines", "accelerators")


class PriceError(UserError, ValueError):
    """A price file that cannot be read."""


@dataclass(frozen=True)
class PriceTable:
    """Hourly prices by machine type and by accelerator type, per GB-hour by disk type; ``origins`` names
    where each entry came from."""

    machines: dict[str, float]
    accelerators: dict[str, float]
    disks: dict[str, float]
    origins: dict[str, str]
    as_of: dt.date
    region: str
    currency: str
    source: str
    scheduling: str = "standard"  # the vertex.scheduling these prices are for
    schedules: dict[str, PriceTable] = field(default_factory=dict)  # spot and flex_start prices

    def scheduled(self, scheduling: str) -> PriceTable:
        """The prices of trials with this ``vertex.scheduling``: this table for standard, else its own."""
        return self if scheduling == self.scheduling else self.schedules[scheduling]


def load_prices(user_file: str | Path | None = None, default: Path = PRICES) -> PriceTable:
    """The repository's table, with ``user_file``'s entries (and as_of/region/source) over it."""
    data = _read(default)
    if user_file is not None:
        extra = _read(Path(user_file))
        for section in (*SECTIONS, "sources"):
            data[section] = {**(data.get(section) or {}), **(extra.get(section) or {})}
        for schedule in SCHEDULES:
            ours, theirs = data.get(schedule) or {}, extra.get(schedule) or {}
            data[schedule] = {s: {**(ours.get(s) or {}), **(theirs.get(s) or {})} for s in SCHEDULED}
        data.update({k: extra[k] for k in ("as_of", "region", "currency", "source") if k in extra})
    path = user_file or default
    sections, origins = _sections(data, SECTIONS, data, path)
    try:
        as_of = data["as_of"] if isinstance(data["as_of"], dt.date) else dt.date.fromisoformat(str(data["as_of"]))
        table = PriceTable(**sections, origins=origins, as_of=as_of, region=str(data["region"]),
                           currency=str(data.get("currency", "USD")), source=str(data.get("source", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceError(f"price table {user_file or default}: {type(exc).__name__}: {exc} (expected as_of, region, "
                         "machines: {type: price}, accelerators: {type: price}; a price is a number or "
                         "{usd: NUMBER, source: ID of sources})") from None
    for schedule in SCHEDULES:
        own, own_origins = _sections(data.get(schedule) or {}, SCHEDULED, data, path, f"{schedule}.")
        table.schedules[schedule] = replace(table, **own, origins={**origins, **own_origins},
                                             scheduling=schedule, schedules={})
    return table


def _sections(data: dict, sections: tuple[str, ...], top: dict, path: str | Path,
              prefix: str = "") -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """``sections`` of ``data`` as {section: {name: price}}, and where each price came from (``top``'s sources)."""
    prices: dict[str, dict[str, float]] = {}
    origins: dict[str, str] = {}
    for section in sections:
        prices[section] = {}
        for name, entry in (data.get(section) or {}).items():
            try:
                prices[section][name], origins[name] = _entry(entry, top.get("sources") or {},
                                                              str(top.get("source", "")))
            except ValueError as exc:
                raise PriceError(f"price table {path}: {prefix}{section}.{name} is {show(entry)}: {exc}; "
                                 "correct the row or remove it") from None
    return prices, origins


def _entry(entry: object, sources: dict, default_source: str) -> tuple[float, str]:
    """A price and where it came from; a ValueError says why the entry is not one."""
    price, origin = entry, default_source
    if isinstance(entry, dict):
        source = entry.get("source")
        if not isinstance(source, str) or source not in sources:
            raise ValueError(f"source {source!r} is not one of sources ({', '.join(sources) or 'none'})")
        price, origin = entry.get("usd"), str(sources[source])
    # A price of 0, below 0, NaN or infinite would make every estimate and ceiling meaningless.
    if isinstance(price, bool) or not isinstance(price, int | float) or not 0 < price < math.inf:
        raise ValueError("a price must be a finite number above 0 (per hour; per GB-hour under disks)")
    return float(price), origin


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceError(f"cannot read the price table {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PriceError(f"price table {path}: expected a mapping")
    for section in (*SECTIONS, "sources"):
        if not isinstance(data.get(section) or {}, dict):
            shape = "id: description" if section == "sources" else "name: price"
            raise PriceError(f"price table {path}: {section} must be a mapping of {shape}, not {show(data[section])}")
    for schedule in SCHEDULES:
        body = data.get(schedule) or {}
        if not isinstance(body, dict) or not all(isinstance(v or {}, dict) for v in body.values()):
            raise PriceError(f"price table {path}: {schedule} must be a mapping of machines and accelerators, each "
                             f"a mapping of name: price, not {show(body)}")
        if other := next((key for key in body if key not in SCHEDULED), None):
            raise PriceError(f"price table {path}: {schedule} takes machines and accelerators (boot disks cost as "
                             f"standard), not {other}")
    return data


@dataclass(frozen=True)
class CostEstimate:
    """The estimate and what it rests on; ``total`` is None when a price is missing."""

    total: float | None
    hourly: float | None  # one trial's machine + accelerators + boot disk per hour
    resources: VertexResources
    trials: int
    minutes_per_trial: float
    prices: PriceTable
    notes: list[str] = field(default_factory=list)
    cheaper: str = "pick a cheaper vertex.machine_type"  # what else lowers a trial's price

    @property
    def currency(self) -> str:
        return self.prices.currency

    @property
    def machine(self) -> str:
        return self.resources.machine_type

    def text(self) -> str:
        p = self.prices
        basis = f"prices of {p.region} as of {p.as_of.isoformat()} ({p.source or 'price table'})"
        if self.total is None:
            return "estimated cost: unknown; " + "; ".join(self.notes)
        r = self.resources
        disk, size = boot_disk(r.machine_type)
        parts = [f"{p.machines[r.machine_type]:.4f} {r.machine_type}"]
        if r.accelerator_type:
            parts.append(f"{r.accelerator_count} x {p.accelerators[r.accelerator_type]:.4f} {r.accelerator_type}")
        parts.append(f"{size} GB x {p.disks[disk]:.6f} {disk} boot disk")
        line = (f"estimated cost: up to {self.total:.2f} {p.currency} = {self.trials} trials x "
                f"{self.minutes_per_trial:g} min x ({' + '.join(parts)}) = {self.hourly:.4f} {p.currency}/h"
                f"{f' at {SCHEDULES[p.scheduling]} prices' if p.scheduling in SCHEDULES else ''}; {basis}")
        used = [r.machine_type, *([r.accelerator_type] if r.accelerator_type else []), disk]
        origins = [f"  {name}: {p.origins[name]}" for name in used]
        notes = [f"  note: {note}" for note in self.notes]
        return "\n".join([line, "  where each price comes from:", *origins, *notes])


def estimate_cost(spec: VertexSpec, prices: PriceTable, minutes_per_trial: float = DEFAULT_MINUTES_PER_TRIAL,
                  region: str | None = None, today: dt.date | None = None) -> CostEstimate:
    """Upper estimate for ``spec``'s trials (grid: at most the grid's points) in ``region``, at the prices of its
    ``vertex.scheduling``; with Spot and standard prices both known, it notes what Spot saves."""
    resources, trials = spec.resources, planned_trials(spec)
    table = prices.scheduled(resources.scheduling)
    hourly, notes = hourly_price(resources, table)
    if hourly is None:
        return CostEstimate(None, None, resources, trials, minutes_per_trial, table, notes)
    if region and region != prices.region:
        notes.append(f"the stack runs in {region}; the table holds {prices.region} prices")
    age = ((today or dt.date.today()) - prices.as_of).days
    if age > STALE_DAYS:
        notes.append(f"the prices are {age} days old: check {prices.source or 'the pricing page'}")
    hours = trials * minutes_per_trial / 60
    notes += _spot_saving(resources, prices, hours)
    return CostEstimate(hours * hourly, hourly, resources, trials, minutes_per_trial, table, notes)


def hourly_price(resources: VertexResources, prices: PriceTable) -> tuple[float | None, list[str]]:
    """One trial's machine + accelerators + boot disk per hour at ``prices``; None, and what is missing, when the
    table lacks one of them."""
    kind = f"{SCHEDULES[prices.scheduling]} " if prices.scheduling in SCHEDULES else ""
    under = f" under {prices.scheduling}:" if kind else ""
    notes = []
    machine = prices.machines.get(resources.machine_type)
    if machine is None:
        notes.append(f"no {kind}price for machine type {resources.machine_type!r} in the table; add it"
                     f"{under and under + ' machines:'} with --prices FILE")
    accelerators = 0.0
    if resources.accelerator_type:
        each = prices.accelerators.get(resources.accelerator_type)
        if each is None:
            notes.append(f"no {kind}price for accelerator {resources.accelerator_type!r} in the table; "
                         f"add it{under and under + ' accelerators:'} with --prices FILE")
        else:
            accelerators = each * resources.accelerator_count
    disk, size = boot_disk(resources.machine_type)  # the request sets no DiskSpec: its defaults (vertex/machines.py)
    if disk not in prices.disks:
        notes.append(f"no price for the {disk} boot disk in the table; add it under disks with --prices FILE")
    if notes:
        return None, notes
    return machine + accelerators + size * prices.disks[disk], []


def _spot_saving(resources: VertexResources, prices: PriceTable, hours: float) -> list[str]:
    """What Spot saves against standard on the spec's machine over ``hours`` of trials, when both prices are known
    (a standard or a Spot sweep; flex-start is priced apart)."""
    standard, spot = (hourly_price(resources, prices.scheduled(s))[0] for s in ("standard", "spot"))
    if resources.scheduling == "flex_start" or standard is None or spot is None or spot >= standard:
        return []
    on = resources.machine_type + (f" + {resources.accelerator_count} x {resources.accelerator_type}"
                                   if resources.accelerator_type else "")
    ask = "" if resources.scheduling == "spot" else " (vertex.scheduling: spot; a Spot trial may be preempted)"
    return [f"Spot saves {standard - spot:.4f} {prices.currency}/h ({(standard - spot) / standard:.0%}) on {on}: up "
            f"to {hours * spot:.2f} against {hours * standard:.2f} {prices.currency} for this sweep{ask}"]
