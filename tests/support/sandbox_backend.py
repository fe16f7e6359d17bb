"""A third backend, to prove the seam: each trial runs as a subprocess in a sandbox folder of its own
(``<run>/trials/<id>/sandbox/``, its working folder), one after the other, at values drawn at random.

It touches no spec, run or report module: it is this module plus its registration, the entry point an installed
package declares in the group ``sweeps.backends`` (``install`` writes one). Its spec section, ``sandbox:``, may set
``env``: variables every trial gets besides the platform's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import subprocess
import time
from pathlib import Path
from typing import ClassVar

from jobs.backends import TuneRequest
from jobs.data.defaults import DEFAULT_DATA, DEFAULT_SPEC
from jobs.registry import ENTRY_POINTS
from jobs.run.budget import planned_trials, with_budget
from jobs.run.folder import RunFolder, RunMeta, new_run_id
from jobs.run.outcome import Best, Ending, Notes, Outcome, PlanTable, TrialsTable
from jobs.spec import Spec, SpecError, load_runnable_spec, load_spec
from jobs.trial.environment import trial_environment
from jobs.trial.record import TrialRecord, TrialState
from jobs.trial.reports import Reports, read_whole

NAME = "sandbox"


@dataclasses.dataclass(frozen=True)
class SandboxOptions:
    """The sandbox takes no flags of its own."""


def install(site: Path) -> Path:
    """Install this backend as a package would, into the folder ``site`` (put it on sys.path or PYTHONPATH): a
    distribution whose entry point in the group ``sweeps.backends`` names it."""
    info = site / "sweeps_sandbox-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sweeps-sandbox\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINTS}]\n{NAME} = {__name__}:SandboxBackend\n")
    return site


class SandboxBackend:
    """Trials as subprocesses in sandbox folders, one at a time, at random values (seeded by the run id)."""

    name: ClassVar[str] = NAME
    options: ClassVar[type] = SandboxOptions
    resumable: ClassVar[frozenset[str]] = frozenset()

    @staticmethod
    def check(spec: Spec, source: str) -> None:
        section = spec.section(NAME)
        problems = [(f"{NAME}.{key}", "unknown key; allowed keys: env") for key in section if key != "env"]
        env = section.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            problems.append((f"{NAME}.env", "must be a mapping of variable names to strings"))
        if problems:
            raise SpecError(source, problems)

    def plan(self, request: TuneRequest, notes: Notes) -> Outcome:
        spec, _ = self._spec(request)
        return Outcome([PlanTable(spec), f"each trial runs in its own sandbox folder: {planned_trials(spec)} trials"])

    def sweep(self, request: TuneRequest, notes: Notes) -> Outcome:
        spec, spec_file = self._spec(request)
        data_root = request.data_root or DEFAULT_DATA
        folder = RunFolder.create(Path(spec_file), RunMeta(
            run_id=request.run_id or new_run_id(spec.name), backend=NAME, spec=spec_file, data_root=data_root,
            trials=spec.trials.max, parallel=1, created=dt.datetime.now().isoformat(timespec="seconds")),
            request.runs_dir)
        draw, records = random.Random(folder.run_id), []
        for number in range(1, planned_trials(spec) + 1):
            records.append(self._trial(spec, folder, str(number), _values(spec, draw), data_root))
            _save(folder, records)
            notes.print(f"trial {number} {records[-1].state}")
        succeeded = any(r.state == TrialState.SUCCEEDED for r in records)
        return Outcome([Best(records, spec.metric.id, spec.metric.goal)],
                       Ending.DONE if succeeded else Ending.FAILED)

    def status(self, folder: RunFolder, notes: Notes) -> Outcome:
        spec = load_spec(folder.spec_path)
        records = self.records(folder, spec, notes)
        return Outcome([TrialsTable(f"sweep {spec.name}", records, spec.metric.goal),
                        Best(records, spec.metric.id, spec.metric.goal)])

    def cancel(self, folder: RunFolder, notes: Notes) -> Outcome:
        return Outcome([f"run {folder.run_id} runs in the foreground of its own command: stop it there"])

    def records(self, folder: RunFolder, spec: Spec, notes: Notes) -> list[TrialRecord]:
        path = _state(folder)
        return [TrialRecord(**r) for r in json.loads(path.read_text())] if path.exists() else []

    def _spec(self, request: TuneRequest) -> tuple[Spec, str]:
        spec_file = request.spec or str(DEFAULT_SPEC)
        spec = with_budget(load_runnable_spec(spec_file), request.trials, 1, request.smoke)
        self.check(spec, spec_file)
        return spec, spec_file

    def _trial(self, spec: Spec, folder: RunFolder, trial_id: str, values: dict, data_root: str) -> TrialRecord:
        trial_dir = folder.trial_dir(trial_id)
        sandbox = trial_dir / "sandbox"
        sandbox.mkdir()
        metric_file = sandbox / "hypertune.jsonl"
        env = {"PATH": "/usr/bin:/bin", **spec.section(NAME).get("env", {}),
               **trial_environment(str(folder.artifacts.resolve()), trial_id, str(metric_file))}
        started = time.time()
        done = subprocess.run(spec.trial_argv(data_root, values), cwd=sandbox, env=env, capture_output=True,
                              text=True)
        reports = Reports(spec.metric.id)
        reports.merge_hypertune(read_whole(metric_file))
        reports.merge_printed(done.stdout + done.stderr)
        objective = reports.measure(spec.measurement, spec.metric.goal)
        state = (TrialState.FAILED if done.returncode else
                 TrialState.INFEASIBLE if objective is None else TrialState.SUCCEEDED)
        return TrialRecord(trial_id, state, objective, values, started=started, duration_s=time.time() - started,
                           reason=f"exit code {done.returncode}" if done.returncode else "",
                           artifact_dir=str(folder.artifact_dir(trial_id).resolve()))


def _values(spec: Spec, draw: random.Random) -> dict[str, object]:
    """One value per active parameter, uniformly at random."""
    values: dict[str, object] = {}
    for pid in spec.parameters:
        if pid not in spec.active(values):
            continue
        p = spec.parameters[pid]
        values[pid] = (draw.uniform(p.min, p.max) if p.type == "double" else draw.randint(p.min, p.max)
                       if p.type == "integer" else draw.choice(p.values))
    return values


def _state(folder: RunFolder) -> Path:
    return folder.root / f"{NAME}.json"


def _save(folder: RunFolder, records: list[TrialRecord]) -> None:
    _state(folder).write_text(json.dumps([dataclasses.asdict(r) for r in records]))
