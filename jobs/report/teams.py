"""The team view, ``invoke report --teams``: the sweeps of a period grouped by team and project, with their trials
and cost at list prices, as a table and as teams.csv and teams.md in the report folder.

Sweeps come from what this machine can see: the run folders under runs/ (a Vertex AI run's run.json names its
project, region and team; a local run names none and is counted under ``(local)``) and, with Google Cloud
credentials, Vertex AI itself: the jobs labelled with each team (``team``, on every job this tool submits) in each
project and region that a stack file or a run folder names, so sweeps launched elsewhere (a team's CI) count too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from infra.config import check_project_id, check_region, check_team
from jobs.backends import backend
from jobs.cloud import storage
from jobs.cloud.stack import team_of
from jobs.console.render import ConsoleNotes, rows_table
from jobs.console.text import user_console
from jobs.errors import ServiceError, UserError
from jobs.run.folder import META, RunError, RunFolder, RunMeta
from jobs.run.spend import SweepCost, aware
from jobs.spec import SpecError, load_spec

LOCAL = "(local)"  # the team of a run that names none
SINCE = re.compile(r"(?P<days>[0-9]{1,5})d")
DEFAULT_SINCE = "30d"
BILL = "docs/fleet.md, \"What the bill says\""  # how to read the billed side: the billing export, by labels
COLUMNS = ("team", "project", "sweeps", "trials", "cost", "first", "last")


@dataclass(frozen=True, order=True)
class Place:
    """Where a team's Vertex AI jobs are listed."""

    project: str
    region: str
    team: str


@dataclass(frozen=True)
class TeamSpend:
    """One team's sweeps in one project: how many, their trials and cost, the first and last."""

    team: str
    project: str
    sweeps: int
    trials: int
    cost: float
    unpriced: int  # sweeps whose cost is not known here
    currency: str
    first: dt.datetime
    last: dt.datetime

    def cells(self) -> list[str]:
        return [self.team, self.project or "-", str(self.sweeps), str(self.trials),
                spend_text(self.cost, self.unpriced, self.currency), f"{self.first:%Y-%m-%d}", f"{self.last:%Y-%m-%d}"]


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """The start of the period: ``30d`` (days back from now) or a date ``YYYY-MM-DD`` (its start, local time)."""
    now = now or dt.datetime.now().astimezone()
    if match := SINCE.fullmatch(value.strip()):
        return now - dt.timedelta(days=int(match["days"]))
    try:
        return aware(dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time()))
    except ValueError:
        raise UserError(f"--since {value!r} is neither a number of days (30d) nor a date (2026-01-31): give one of "
                        "them") from None


def spend_text(cost: float, unpriced: int, currency: str) -> str:
    """``12.34 USD``; ``+ 2 unpriced`` when some sweeps' cost is not known here; ``-`` when none is."""
    if unpriced and not currency:
        return f"{unpriced} unpriced"
    shown = f"{cost:.2f} {currency}".strip()
    return f"{shown} + {unpriced} unpriced" if unpriced else shown


def seen_sweeps(runs_dir: Path, since: dt.datetime, places: Iterable[Place] = (),
                choose: Callable = backend) -> tuple[list[SweepCost], list[str]]:
    """Every sweep created since ``since`` that this machine can see: the run folders under ``runs_dir``, and the
    Vertex AI jobs of each place (those given and those the run folders name) with their trials and cost. Returns
    the sweeps (a job seen both ways once, as Vertex AI has it) and a line for each thing that could not be read."""
    local, recorded, named, notes = _run_folders(runs_dir, since, choose)
    cloud, more = _cloud_sweeps({*places, *named}, since, recorded, choose)
    listed = {(s.project, s.run_id) for s in cloud}
    sweeps = [s for s in local if (s.project, s.run_id) not in listed] + cloud
    return sorted(sweeps, key=lambda s: s.created), notes + more


def _run_folders(runs_dir: Path, since: dt.datetime, choose: Callable):
    """The run folders' sweeps since ``since``, the price per trial-hour of each cloud run, the places they name,
    and a line for each run that could not be read."""
    sweeps, recorded, places, notes = [], {}, set(), []
    for record in sorted(runs_dir.glob(f"*/{META}")):
        folder = RunFolder(record.parent)
        try:
            meta = folder.meta()
            created = aware(dt.datetime.fromisoformat(meta.created)) if meta.created else \
                dt.datetime.fromtimestamp(record.stat().st_mtime).astimezone()
            if created < since:
                continue
            sweep, place = _folder_sweep(folder, meta, created, choose)
        except (RunError, SpecError, ValueError, UserError, ServiceError) as exc:
            notes.append(f"run {folder.run_id} left out: {exc}")
            continue
        sweeps.append(sweep)
        if place:
            places.add(place)
            if meta.hourly_cost is not None:
                recorded[meta.run_id] = (meta.hourly_cost, meta.currency or "")
    return sweeps, recorded, places, notes


def _folder_sweep(folder: RunFolder, meta: RunMeta, created: dt.datetime,
                  choose: Callable) -> tuple[SweepCost, Place | None]:
    """A run folder as a sweep, and where its cloud jobs are listed (None for a run on this machine). A cloud run
    (its run.json names a project) leaves its trials and cost to the listing; a local run's trials are counted
    from its backend's records, and it costs nothing billed."""
    spec = load_spec(folder.spec_path)
    extra = meta.model_extra or {}
    project = str(extra.get("project") or "")
    if project:
        team = str(extra.get("team") or team_of(str(extra.get("trainer_service_account") or "")) or "")
        region = str(extra.get("region") or "")
        check_project_id(project)  # they name the API calls that list the run's jobs: a ValueError leaves it out
        if team:
            check_team(team)
            check_region(region)
        sweep = SweepCost(meta.run_id, meta.backend, team, project, spec.name, created, currency=meta.currency or "")
        return sweep, Place(project, region, team) if team else None
    trials = len(choose(meta.backend).records(folder, spec, _stderr_notes()))
    return SweepCost(meta.run_id, meta.backend, "", "", spec.name, created, trials, 0.0), None


def _stderr_notes() -> ConsoleNotes:
    """Where a backend says what it does while it lists (a retry): stderr, apart from the report."""
    return ConsoleNotes(user_console(stderr=True))


def _cloud_sweeps(places: set[Place], since: dt.datetime, recorded: dict, choose: Callable):
    """The Vertex AI jobs of each place since ``since``; without credentials (or the Vertex AI client) one line
    says so instead."""
    if not places:
        return [], []
    try:
        lister = choose("vertex")
        from google.auth.exceptions import GoogleAuthError

        from jobs.errors import auth_problem
    except (UserError, ModuleNotFoundError) as exc:
        return [], [f"Vertex AI jobs not listed: {exc}"]
    found, notes = [], []
    for place in sorted(places):
        try:
            found += lister.sweeps(place.project, place.region, place.team, since, recorded, _stderr_notes())
        except ServiceError as exc:
            notes.append(f"Vertex AI jobs of team {place.team} in {place.project} ({place.region}) not listed: {exc}")
        except GoogleAuthError as exc:
            problem = auth_problem(exc)
            if problem is None:
                raise
            return found, [*notes, f"Vertex AI jobs not listed (runs/ only): {problem}"]
    return found, notes


def by_team(sweeps: Iterable[SweepCost]) -> list[TeamSpend]:
    """The sweeps grouped by team and project, in that order (local runs, which name no team, last)."""
    groups: dict[tuple[str, str], list[SweepCost]] = {}
    for sweep in sweeps:
        groups.setdefault((sweep.team or LOCAL, sweep.project), []).append(sweep)
    rows = []
    for (team, project), group in sorted(groups.items(), key=lambda item: (item[0][0] == LOCAL, item[0])):
        priced = [s for s in group if s.cost is not None]
        currencies = sorted({s.currency for s in priced if s.currency})
        rows.append(TeamSpend(team, project, len(group), sum(s.trials or 0 for s in group),
                              sum(s.cost for s in priced), len(group) - len(priced), "/".join(currencies),
                              min(s.created for s in group), max(s.created for s in group)))
    return rows


def team_table(rows: list[TeamSpend], since: dt.datetime):
    """The team view as a table."""
    return rows_table(f"sweeps by team since {since:%Y-%m-%d}", COLUMNS, (r.cells() for r in rows),
                      right=("sweeps", "trials", "cost"),
                      caption=f"cost: trials' machine hours x list prices; the bill: {BILL}")


def team_report(runs_dir: Path, since: dt.datetime, out: str, console: Console, places: Iterable[Place] = (),
                choose: Callable = backend) -> int:
    """Print the team view and write teams.csv and teams.md into ``out``; returns the exit status (0)."""
    sweeps, notes = seen_sweeps(runs_dir, since, places, choose)
    rows = by_team(sweeps)
    for note in notes:
        console.print(note, soft_wrap=True, markup=False, highlight=False)
    if not rows:
        console.print(f"no sweeps since {since:%Y-%m-%d} in {runs_dir}/" + (" or on Vertex AI" if places else ""),
                      highlight=False)
        return 0
    console.print(team_table(rows, since))
    for name, text, kind in (("teams.csv", _csv(rows), "text/csv"),
                             ("teams.md", _markdown(rows, sweeps, notes, since), "text/markdown; charset=utf-8")):
        storage.write_bytes(storage.join(out, name), text.encode(), kind)
    console.print(f"team view: {storage.join(out, 'teams.md')} (and teams.csv)", highlight=False)
    return 0


def _csv(rows: list[TeamSpend]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS[:4], "cost", "unpriced_sweeps", "currency", "first", "last"])
    for r in rows:
        writer.writerow([r.team, r.project, r.sweeps, r.trials, f"{r.cost:.4f}", r.unpriced, r.currency,
                         r.first.isoformat(timespec="seconds"), r.last.isoformat(timespec="seconds")])
    return buffer.getvalue()


def _markdown(rows: list[TeamSpend], sweeps: list[SweepCost], notes: list[str], since: dt.datetime) -> str:
    lines = [f"# Sweeps by team since {since:%Y-%m-%d}", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    lines += ["", "## Sweeps", "", "| run | backend | team | project | spec | created | trials | cost |",
              "|---|---|---|---|---|---|---|---|"]
    for s in sweeps:
        cost = "-" if s.cost is None else f"{s.cost:.4f} {s.currency}".strip()
        lines.append(f"| {s.run_id} | {s.backend} | {s.team or LOCAL} | {s.project or '-'} | {s.spec} | "
                     f"{s.created:%Y-%m-%d %H:%M} | {'-' if s.trials is None else s.trials} | {cost} |")
    lines += ["", *(f"- {note}" for note in notes), *([""] if notes else []),
              f"Cost is the trials' machine hours at list prices; what was billed is in the Cloud Billing export, "
              f"grouped by the labels team and project ({BILL}).", ""]
    return "\n".join(lines)
