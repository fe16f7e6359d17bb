"""What a Vertex AI sweep may cost: trials x expected hours per trial x (machine + accelerators + boot disk)
per hour.

Prices come from the dated table ``jobs/prices.yaml`` (us-central1), which a user file may override
entry by entry. The estimate says which prices it used, where each came from and how old they are, and
names any machine or accelerator the table lacks instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from jobs.budget import planned_trials
from jobs.errors import UserError
from jobs.spec import Spec, VertexResources

PRICES = Path(__file__).resolve().parents[1] / "prices.yaml"
DEFAULT_MINUTES_PER_TRIAL = 10.0
STALE_DAYS = 365
SECTIONS = ("machines", "accelerators", "disks")
BOOT_DISK = ("pd-ssd", 100)  # DiskSpec's defaults: boot_disk_type pd-ssd, boot_disk_size_gb 100


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


def load_prices(user_file: str | Path | None = None, default: Path = PRICES) -> PriceTable:
    """The repository's table, with ``user_file``'s entries (and as_of/region/source) over it."""
    data = _read(default)
    if user_file is not None:
        extra = _read(Path(user_file))
        for section in (*SECTIONS, "sources"):
            data[section] = {**data.get(section, {}), **(extra.get(section) or {})}
        data.update({k: extra[k] for k in ("as_of", "region", "currency", "source") if k in extra})
    try:
        as_of = data["as_of"] if isinstance(data["as_of"], dt.date) else dt.date.fromisoformat(str(data["as_of"]))
        source = str(data.get("source", ""))
        sections, origins = {}, {}
        for section in SECTIONS:
            sections[section] = {}
            for name, entry in (data.get(section) or {}).items():
                sections[section][name], origins[name] = _entry(entry, data.get("sources") or {}, source)
        return PriceTable(**sections, origins=origins, as_of=as_of, region=str(data["region"]),
                          currency=str(data.get("currency", "USD")), source=source)
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceError(f"price table {user_file or default}: {type(exc).__name__}: {exc} (expected as_of, region, "
                         "machines: {type: price}, accelerators: {type: price}; a price is a number or "
                         "{usd: NUMBER, source: ID of sources})") from None


def _entry(entry: object, sources: dict, default_source: str) -> tuple[float, str]:
    """A price and where it came from."""
    if isinstance(entry, dict):
        if entry.get("source") not in sources:
            raise ValueError(f"source {entry.get('source')!r} is not one of sources ({', '.join(sources) or 'none'})")
        return float(entry["usd"]), str(sources[entry["source"]])
    return float(entry), default_source


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceError(f"cannot read the price table {path}: {exc}") from None
    if not isinstance(data, dict):
        raise PriceError(f"price table {path}: expected a mapping")
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

    def text(self) -> str:
        p = self.prices
        basis = f"prices of {p.region} as of {p.as_of.isoformat()} ({p.source or 'price table'})"
        if self.total is None:
            return "estimated cost: unknown; " + "; ".join(self.notes)
        r, (disk, size) = self.resources, BOOT_DISK
        parts = [f"{p.machines[r.machine_type]:.4f} {r.machine_type}"]
        if r.accelerator_type:
            parts.append(f"{r.accelerator_count} x {p.accelerators[r.accelerator_type]:.4f} {r.accelerator_type}")
        parts.append(f"{size} GB x {p.disks[disk]:.6f} {disk} boot disk")
        line = (f"estimated cost: up to {self.total:.2f} {p.currency} = {self.trials} trials x "
                f"{self.minutes_per_trial:g} min x ({' + '.join(parts)}) = {self.hourly:.4f} {p.currency}/h; {basis}")
        used = [r.machine_type, *([r.accelerator_type] if r.accelerator_type else []), disk]
        origins = [f"  {name}: {p.origins[name]}" for name in used]
        notes = [f"  note: {note}" for note in self.notes]
        return "\n".join([line, "  where each price comes from:", *origins, *notes])


def estimate_cost(spec: Spec, prices: PriceTable, minutes_per_trial: float = DEFAULT_MINUTES_PER_TRIAL,
                  region: str | None = None, today: dt.date | None = None) -> CostEstimate:
    """Upper estimate for ``spec``'s trials (grid: at most the grid's points) in ``region``."""
    resources, notes = spec.vertex, []
    trials = planned_trials(spec)
    machine = prices.machines.get(resources.machine_type)
    if machine is None:
        notes.append(f"no price for machine type {resources.machine_type!r} in the table; add it with --prices FILE")
    accelerators = 0.0
    if resources.accelerator_type:
        each = prices.accelerators.get(resources.accelerator_type)
        if each is None:
            notes.append(f"no price for accelerator {resources.accelerator_type!r} in the table; "
                         "add it with --prices FILE")
        else:
            accelerators = each * resources.accelerator_count
    disk, size = BOOT_DISK
    if disk not in prices.disks:
        notes.append(f"no price for the {disk} boot disk in the table; add it under disks with --prices FILE")
    if notes:
        return CostEstimate(None, None, resources, trials, minutes_per_trial, prices, notes)
    if region and region != prices.region:
        notes.append(f"the stack runs in {region}; the table holds {prices.region} prices")
    age = ((today or dt.date.today()) - prices.as_of).days
    if age > STALE_DAYS:
        notes.append(f"the prices are {age} days old: check {prices.source or 'the pricing page'}")
    hourly = machine + accelerators + size * prices.disks[disk]
    total = trials * minutes_per_trial / 60 * hourly
    return CostEstimate(total, hourly, resources, trials, minutes_per_trial, prices, notes)


class CeilingError(UserError, ValueError):
    """A sweep whose worst-case cost is above ``trials.max_cost``, or whose cost cannot be known."""


def check_ceiling(estimate: CostEstimate, max_cost: float | None) -> None:
    """Refuse a sweep whose worst-case estimate is above ``max_cost``, saying how many trials would fit."""
    if max_cost is None:
        return
    currency = estimate.prices.currency
    if estimate.total is None:
        raise CeilingError(f"trials.max_cost {max_cost:g} {currency} cannot be enforced: " + "; ".join(estimate.notes))
    if estimate.total <= max_cost:
        return
    per_trial = estimate.total / estimate.trials
    fits = int(max_cost // per_trial)
    fit = (f"{fits} trials fit (--trials {fits})" if fits else "not one trial fits") + \
        f" at {per_trial:.4g} {currency} each"
    raise CeilingError(f"the worst case, {estimate.total:.4g} {currency} ({estimate.trials} trials x "
                       f"{estimate.minutes_per_trial:g} min x {estimate.hourly:.4f} {currency}/h), is above "
                       f"trials.max_cost {max_cost:g} {currency}: {fit}; or raise max_cost (--max-cost), or give "
                       "--minutes-per-trial if trials run shorter")


def trials_cost(trials, hourly: float, now: float) -> tuple[float, int]:
    """(what ``trials`` have cost so far at ``hourly``, how many are still running) from their start and end
    times: the machine time Vertex AI bills, at list prices."""
    hours, running = 0.0, 0
    for trial in trials:
        if not trial.start_time:
            continue
        ended = trial.end_time.timestamp() if trial.end_time else None
        running += ended is None
        hours += max(0.0, (ended or now) - trial.start_time.timestamp()) / 3600
    return hours * hourly, running


@dataclass(frozen=True)
class Ceiling:
    """``max_cost`` over a running job: its trials cost their hours so far times ``hourly`` (list prices; real
    billing lags and may differ). ``margin_s``: how long running trials may still be billed after a check, until
    the next check and the cancellation's end."""

    max_cost: float
    hourly: float
    currency: str
    margin_s: float

    def breach(self, trials, now: float) -> str | None:
        """Why the job must be cancelled now, or None: when what it has cost plus its running trials' next
        ``margin_s`` would reach ``max_cost``."""
        cost, running = trials_cost(trials, self.hourly, now)
        if cost + running * self.hourly * self.margin_s / 3600 < self.max_cost:
            return None
        return (f"trials have cost {cost:.4g} {self.currency} of trials.max_cost {self.max_cost:g} {self.currency}, "
                f"{running} still running: cancelling the job before it crosses the ceiling")
