"""Many stacks at once, for a platform team: every stack file under infra/stacks/ with what the Pulumi state backend
and the runs say of it (the fleet view, ``invoke infra.fleet``), and a preview, an update or a drift check run over
them one by one with a summary (``invoke infra.preview --all``, ``infra.up --all``, ``infra.drift``).

An operation shells out to the ``pulumi`` CLI, stack by stack, with the one-stack tasks' command line
(``infra.onboard.stack_command``: the policy pack included) plus ``--event-log FILE``: the engine writes its
events there, one JSON object a line, as the Automation API reads them (EngineEvent, SummaryEvent, PolicyEvent,
DiagnosticEvent: pulumi.com/docs/reference/pkg/nodejs/pulumi/pulumi/interfaces/automation.EngineEvent.html), and
the summary is read from them; the exit status is read by Pulumi's table (pulumi.com/docs/iac/cli/exit-codes).
docs/decisions.md says why this is not the Automation API.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import ConfigError, StackConfig, read_stack_file
from infra.onboard import REPO, STACKS, check_policy_config, pulumi_available, stack_command
from infra.outputs import routes
from jobs.backends import backend
from jobs.errors import ServiceError, UserError
from jobs.report.teams import Place, TeamSpend, by_team, seen_sweeps, spend_text

STACK_FILE = re.compile(r"Pulumi\.(?P<stack>.+)\.yaml")
EXAMPLE = re.compile(r"example(-.+)?")  # Pulumi.example.yaml, Pulumi.example-*.yaml: documentation, not projects
HISTORY_PAGE = 10  # the newest operations read per stack for its last update
# OpType (automation.OpType) lists the operations a summary counts; the docs do not say which are changes. These
# only read or refresh state: `--expect-no-changes` passes with them.
UNCHANGED = frozenset({"same", "read", "read-replacement", "discard", "refresh"})
# pulumi.com/docs/iac/cli/exit-codes (Pulumi CLI 3.226.1 and later; earlier ones exit 255 for most errors).
EXIT_CODES = {1: "error", 2: "configuration or validation error", 3: "not logged in or not authorized",
              4: "resource or deployment error", 5: "a policy blocked it", 6: "stack not found",
              7: "changes found", 8: "canceled", 9: "timed out", 255: "internal CLI error"}
DRIFT_NEXT = ("`invoke infra.up --stack STACK` puts the resources back as the program says, or `pulumi refresh "
              "--stack STACK` takes what changed into the state (then change the program to match)")


@dataclass(frozen=True)
class StackFile:
    """One stack file: its stack name, its config keys as written, and the validated config or why it fails."""

    name: str
    path: Path
    keys: dict[str, Any] = field(default_factory=dict)
    config: StackConfig | None = None
    problem: str = ""

    def _value(self, key: str) -> str:
        value = self.keys.get(key)
        return value if isinstance(value, str) else ""

    @property
    def team(self) -> str:
        return self.config.team if self.config else self._value("sweeps:team")

    @property
    def project(self) -> str:
        return self.config.project if self.config else self._value("gcp:project")

    @property
    def region(self) -> str:
        return self.config.region if self.config else self._value("gcp:region")

    @property
    def routes(self) -> tuple[str, ...]:
        """The routes a trial can take on the stack once it is up (the stack's ``routes`` output)."""
        if not self.config:
            return ()
        return routes(self.config.has_image)


def read_stack(path: Path) -> StackFile:
    """A stack file, checked as ``pulumi up`` checks it (infra/config.py); a problem is kept, not raised."""
    name = STACK_FILE.fullmatch(path.name)["stack"]
    try:
        keys = read_stack_file(path).get("config") or {}
    except (OSError, ConfigError) as exc:
        return StackFile(name, path, problem=f"{path}: {exc}: fix the file, or remove it")
    try:
        return StackFile(name, path, keys, StackConfig.from_keys(keys))
    except ConfigError as exc:
        return StackFile(name, path, keys, problem=f"{path}: {exc}")


def read_stacks(folder: Path = STACKS) -> list[StackFile]:
    """Every stack file in ``folder`` but the examples, by stack name."""
    if not folder.is_dir():
        raise UserError(f"no stacks folder {folder}: onboard a project first (invoke infra.onboard writes its "
                        "stack file there)")
    names = [(path, STACK_FILE.fullmatch(path.name)) for path in sorted(folder.glob("Pulumi.*.yaml"))]
    stacks = [read_stack(path) for path, name in names if name and not EXAMPLE.fullmatch(name["stack"])]
    if not stacks:
        raise UserError(f"no stack files in {folder} (Pulumi.<team>-<project>.yaml; the examples do not count): "
                        "onboard a project with invoke infra.onboard")
    return stacks


def pick(stacks: list[StackFile], team: str | None) -> list[StackFile]:
    """The stacks of ``team`` (all when None); a team with none is an error naming the teams there are."""
    if team is None:
        return stacks
    picked = [s for s in stacks if s.team == team]
    if not picked:
        teams = sorted({s.team for s in stacks if s.team})
        raise UserError(f"--team {team}: no stack file names it; teams: {', '.join(teams) or 'none'}")
    return picked


# --- the state backend -------------------------------------------------------------------------------------------

def pulumi_json(*args: str) -> Any:
    """``pulumi ARGS --json`` in the project; a failure is a ServiceError with the CLI's last line."""
    done = subprocess.run(["pulumi", *args, "--json", "--cwd", str(REPO)], capture_output=True, text=True)
    if done.returncode:
        said = [line for line in done.stderr.splitlines() if line.strip()][-1:] or [f"exit {done.returncode}"]
        why = EXIT_CODES.get(done.returncode)
        raise ServiceError(f"pulumi {' '.join(args)} failed ({said[0].strip()}" + (f"; {why}" if why else "") + ")")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ServiceError(f"pulumi {' '.join(args)} printed no JSON: update the Pulumi CLI") from None


def backend_stacks() -> set[str]:
    """The stacks of this project the state backend has: ``pulumi stack ls --json``, each ``name`` (StackSummary:
    pulumi.com/docs/reference/pkg/nodejs/pulumi/pulumi/interfaces/automation.StackSummary.html), the stack's own
    name after any ``org/project/``."""
    return {str(entry["name"]).rsplit("/", 1)[-1] for entry in pulumi_json("stack", "ls")}


def last_update(stack: str) -> str:
    """When the stack's last ``pulumi up`` started and how it ended, from ``pulumi stack history``: UpdateSummary's
    ``kind``, ``startTime`` and ``result`` (automation.UpdateSummary.html); ``never`` when none is among the newest
    operations."""
    history = pulumi_json("stack", "history", "--stack", stack, "--page-size", str(HISTORY_PAGE), "--page", "1")
    updates = [h for h in history or [] if h.get("kind") == "update" and h.get("startTime")]
    if not updates:
        return "never" if len(history or []) < HISTORY_PAGE else f"not in the last {HISTORY_PAGE} operations"
    newest = max(updates, key=lambda h: _moment(h["startTime"]))
    return f"{_moment(newest['startTime']):%Y-%m-%d %H:%M} UTC {newest.get('result', '')}".strip()


def _moment(text: str) -> dt.datetime:
    """A history time, e.g. 2026-01-31T10:00:00.000Z (the format the Automation API parses), in UTC."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def stack_states(names: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Each stack's last update (None: the backend has no state for it), or, when the backend cannot be asked
    (no CLI, no login), no entries and one line saying why."""
    if not pulumi_available():
        return {}, ["last up: no pulumi CLI on PATH (install it, then `pulumi login`)"]
    try:
        known = backend_stacks()
        return {name: last_update(name) if name in known else None for name in names}, []
    except ServiceError as exc:
        return {}, [f"last up: not read: {exc}"]


def places(stacks: list[StackFile]) -> list[Place]:
    """Where the stacks' teams run Vertex AI jobs: (project, region, team) of each stack that passes its checks."""
    return [Place(s.project, s.region, s.team) for s in stacks if s.config]


# --- the fleet view ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FleetRow:
    """One stack as the fleet view shows it."""

    stack: StackFile
    last_up: str | None  # None: no state; "" when the backend was not asked
    spend: TeamSpend | None = None  # its team's sweeps in its project; None: none seen

    def cells(self) -> list[str]:
        s = self.stack
        last = "no state" if self.last_up is None else self.last_up or "-"
        spend = self.spend
        sweeps, cost = ("0", "-") if spend is None else (str(spend.sweeps),
                                                         spend_text(spend.cost, spend.unpriced, spend.currency))
        return [s.name, s.team or "?", s.project or "?", s.region or "?", ", ".join(s.routes) or "-",
                "ok" if not s.problem else "invalid", last, sweeps, cost]

    def as_json(self) -> dict[str, Any]:
        s, spend = self.stack, self.spend
        return {"stack": s.name, "file": str(s.path), "team": s.team, "project": s.project, "region": s.region,
                "routes": list(s.routes), "config_ok": not s.problem, "problem": s.problem or None,
                "state": None if self.last_up == "" else self.last_up is not None, "last_up": self.last_up or None,
                "sweeps": spend.sweeps if spend else 0, "trials": spend.trials if spend else 0,
                "cost": round(spend.cost, 4) if spend else 0.0, "unpriced_sweeps": spend.unpriced if spend else 0,
                "currency": spend.currency if spend else ""}


FLEET_COLUMNS = ("stack", "team", "project", "region", "routes", "config", "last up", "sweeps", "cost")


@dataclass
class Fleet:
    """The fleet view: a row per stack, a line per problem, a line per thing not known here."""

    rows: list[FleetRow]
    problems: list[str]
    notes: list[str]
    since: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(timespec="seconds"), "stacks": [r.as_json() for r in self.rows],
                "problems": self.problems, "notes": self.notes}


def fleet_view(stacks: list[StackFile], since: dt.datetime, runs_dir: Path, choose: Callable = backend) -> Fleet:
    """Every stack with its checks, its last update and its team's sweeps in its project since ``since``."""
    problems = [s.problem for s in stacks if s.problem]
    try:
        check_policy_config()  # the pack's config file, which every stack's preview reads
    except ConfigError as exc:
        problems.append(str(exc))
    states, notes = stack_states([s.name for s in stacks])
    problems += [f"stack {s.name}: no state in the Pulumi backend: `invoke infra.up --stack {s.name}` creates it"
                 for s in stacks if not s.problem and s.name in states and states[s.name] is None]
    sweeps, seen = seen_sweeps(runs_dir, since, places(stacks), choose)
    spend = {(row.team, row.project): row for row in by_team(sweeps)}
    rows = [FleetRow(s, states.get(s.name, ""), spend.get((s.team, s.project))) for s in stacks]
    return Fleet(rows, problems, notes + seen, since)


# --- operations over many stacks ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    """A policy violation as a PolicyEvent reports it."""

    policy: str
    level: str  # "mandatory" or "warning" (advisory), PolicyEvent.enforcementLevel
    message: str


@dataclass(frozen=True)
class Events:
    """What an operation's event log says: its changes by operation (None: no summary, the engine stopped before
    it), its policy violations and its error diagnostics."""

    changes: dict[str, int] | None
    violations: list[Violation]
    errors: list[str]

    @property
    def changed(self) -> dict[str, int]:
        return {op: count for op, count in (self.changes or {}).items() if op not in UNCHANGED and count}


def read_events(path: Path) -> Events:
    """The engine events in ``path`` (one JSON object a line); a missing file or a torn line reads as nothing."""
    changes, violations, errors = None, [], []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if summary := event.get("summaryEvent"):
            changes = dict(summary.get("resourceChanges") or {})
        elif policy := event.get("policyEvent"):
            violations.append(Violation(policy.get("policyName", ""), policy.get("enforcementLevel", ""),
                                        " ".join(str(policy.get("message", "")).split())))
        elif (diagnostic := event.get("diagnosticEvent")) and diagnostic.get("severity") == "error":
            errors.append(" ".join(str(diagnostic.get("message", "")).split()))
    return Events(changes, violations, errors)


@dataclass(frozen=True)
class StackRun:
    """How one stack's operation ended: ``result`` is ok, drifted, in sync, policy (a mandatory violation),
    failed or skipped."""

    stack: str
    team: str
    result: str
    events: Events = field(default_factory=lambda: Events(None, [], []))
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.result in ("policy", "failed")

    def cells(self) -> list[str]:
        changed = self.events.changed
        changes = (", ".join(f"{n} {op}" for op, n in sorted(changed.items())) or "none"
                   ) if self.events.changes is not None else "-"
        by_level: dict[str, list[str]] = {}
        for v in self.events.violations:
            by_level.setdefault("mandatory" if v.level == "mandatory" else "advisory", []).append(v.policy)
        policies = "; ".join(f"{level}: {', '.join(dict.fromkeys(names))}" for level, names in by_level.items())
        return [self.stack, self.team, self.result, changes, policies or "-", self.error or "-"]


RUN_COLUMNS = ("stack", "team", "result", "changes", "policy violations", "error")


def fleet_commands(action: str, stack: str, policy: bool, yes: bool, refresh: bool, log: Path) -> list[list[str]]:
    """The ``pulumi`` command lines of ``action`` (preview, up or drift) on one stack: a preview or an update
    selects the stack first (creating it when new) and runs the policy pack, as the one-stack tasks do; a drift
    check is a preview that expects no changes (refreshing the state from the cloud first unless ``refresh`` is
    False) on a stack that must exist."""
    events = ["--event-log", str(log)]
    if action == "drift":
        return [[*stack_command("preview", stack, policy=False), "--expect-no-changes",
                 *(["--refresh"] if refresh else []), *events]]
    return [stack_command("select", stack),
            [*stack_command(action, stack, policy), *(["--yes"] if yes and action == "up" else []), *events]]


def run_stack(action: str, stack: StackFile, policy: bool = True, yes: bool = False, refresh: bool = True) -> StackRun:
    """``action`` on one stack, the CLI's output on this terminal; a stack file that fails its checks is not run."""
    if stack.problem:
        return StackRun(stack.name, stack.team, "failed", error=stack.problem)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "events.jsonl"
        for command in fleet_commands(action, stack.name, policy, yes, refresh, log):
            status = subprocess.run(command).returncode
            if status:
                break
        events = read_events(log)
    return StackRun(stack.name, stack.team, _result(action, status, events), events,
                    _error(status, events) if status and not (action == "drift" and status == 7) else "")


def _result(action: str, status: int, events: Events) -> str:
    if any(v.level == "mandatory" for v in events.violations):
        return "policy"
    if action == "drift":
        if status == 7 or (status == 0 and events.changed):
            return "drifted"
        return "in sync" if status == 0 else "failed"
    return "failed" if status else "ok"


def _error(status: int, events: Events) -> str:
    """The engine's first error, else what the exit status means."""
    mandatory = [f"{v.policy}: {v.message}" for v in events.violations if v.level == "mandatory"]
    said = (mandatory or events.errors or [""])[0]
    meaning = f"pulumi exited {status}" + (f": {EXIT_CODES[status]}" if status in EXIT_CODES else "")
    return f"{said[:300]} ({meaning})" if said else meaning


def run_stacks(action: str, stacks: list[StackFile], keep_going: bool = False, say: Callable[[str], None] = print,
               **options: bool) -> list[StackRun]:
    """``action`` on each stack in turn; a preview or an update stops at the first failure or mandatory policy
    violation unless ``keep_going`` (the rest: skipped), a drift check looks at every stack."""
    results: list[StackRun] = []
    for number, stack in enumerate(stacks, 1):
        if results and results[-1].failed and action != "drift" and not keep_going:
            results += [StackRun(s.name, s.team, "skipped") for s in stacks[number - 1:]]
            break
        say(f"== {stack.name} ({number}/{len(stacks)}): {action}")
        results.append(run_stack(action, stack, **options))
    return results


def conclusion(action: str, results: list[StackRun]) -> tuple[list[str], int]:
    """The lines after the summary table, and the exit status: 1 when a stack failed or drifted."""
    failed = [r for r in results if r.failed]
    lines = []
    if failed and (skipped := [r.stack for r in results if r.result == "skipped"]):
        lines.append(f"stopped at {failed[0].stack} ({failed[0].result}); not run: {', '.join(skipped)}: fix it and "
                     "run again, or add --keep-going to go past a failing stack")
    elif failed:
        lines.append(f"{len(failed)} of {len(results)} stacks failed: {', '.join(r.stack for r in failed)}")
    if drifted := [r.stack for r in results if r.result == "drifted"]:
        lines.append(f"drifted: {', '.join(drifted)}: " + DRIFT_NEXT.replace("STACK", drifted[0]
                                                                              if len(drifted) == 1 else "STACK"))
    if action == "drift" and not drifted and not failed:
        lines.append(f"no drift: all {len(results)} stacks match their state and the program")
    return lines, int(bool(failed or drifted))
