"""The sweep tasks, at the root of the namespace: prepare data, train once, tune, report, and a run's status and
cancel. Each parses its flags and calls ``jobs``; heavy libraries (torch, pandas, aiplatform) are imported inside
the tasks, so ``invoke --list`` and ``--help`` answer at once."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from invoke import Exit

from jobs.data.defaults import DEFAULT_DATA, DEFAULT_SPEC, ensure_default_data

from .flags import exit_with, given, guarded, help_if_asked, integer, positive, task


@task(help={
    "csv": "CSV file or gs:// object to prepare; default: the built-in dataset (scikit-learn breast_cancer)",
    "target": "the CSV's binary label column (required with --csv)",
    "out": f"folder or gs:// prefix to write train_data.npz, val_data.npz, prep.json (default {DEFAULT_DATA})",
    "features": "comma-separated feature columns; default: all but the target, identifiers and free text",
    "val_fraction": "share of rows held out for validation (0.2)",
    "seed": "seed of the train/validation split (42)",
})
def data(c, csv=None, target=None, out=DEFAULT_DATA, features=None, val_fraction="0.2", seed=42):
    """Prepare train/val .npz files for the trainer from a CSV or the built-in dataset."""
    from jobs.data.prepare import prepare_to

    fraction = positive(val_fraction, "--val-fraction", "(a share below 1)", "data")
    if fraction >= 1:
        raise Exit(f"data: --val-fraction must be below 1, got {val_fraction!r}", code=2)
    seed = integer(seed, "--seed", 0, "data")
    prepared, files = guarded("data", lambda: prepare_to(
        out, csv, target, features.split(",") if features else None, fraction, seed))
    recipe = prepared.recipe
    print(f"source: {recipe['source']}")
    print(f"target: {recipe['target']} (positive class {recipe['positive_class']!r})")
    print(f"features ({len(recipe['features'])}): {', '.join(s['column'] for s in recipe['features'])}")
    for column, why in prepared.dropped.items():
        print(f"dropped {column}: {why}")
    print(f"rows: {recipe['train_rows']} train, {recipe['val_rows']} validation")
    for path in files:
        print(f"wrote {path}")


@task(help={
    "data_root": f"folder or gs:// prefix with train_data.npz and val_data.npz (default {DEFAULT_DATA}, "
            "prepared from the built-in dataset when missing)",
    "out": "AIP_MODEL_DIR for the run: folder or gs:// prefix (default outputs/model)",
    "args": "extra trainer flags, quoted, e.g. --args='--learning_rate=1e-3 --hidden=128'",
})
def train(c, data_root=DEFAULT_DATA, out=os.path.join("outputs", "model"), args=""):
    """Run the trainer once (python -m trainer) on prepared data."""
    from jobs.cloud import storage
    from jobs.console.text import user_console

    try:
        extra = shlex.split(args)
    except ValueError as exc:  # an unclosed quote
        raise Exit(f"train: --args {args!r}: {exc}: close each quote, e.g. --args='--hidden=128 --epochs=10'",
                   code=2) from None
    ensure_default_data(data_root, user_console())
    command = [sys.executable, "-m", "trainer", f"--train={storage.join(data_root, 'train_data.npz')}",
               f"--val={storage.join(data_root, 'val_data.npz')}", *extra]
    exit_with(subprocess.call(command, env={**os.environ, "AIP_MODEL_DIR": out}))


@task(help={
    "spec": f"sweep spec YAML (default {DEFAULT_SPEC.relative_to(DEFAULT_SPEC.parents[2])}); see docs/sweep-spec.md",
    "backend": "local (default: this machine) or vertex (a Vertex AI hyperparameter tuning job); a resumed "
               "run keeps its own",
    "trials": "override trials.max",
    "parallel": "override trials.parallel",
    "run_id": "name of the run (default <spec name>-<YYYYmmdd-HHMMSS>); on vertex, an existing one re-attaches",
    "smoke": "run one trial only: check the whole path before scaling up",
    "resume": "RUN_ID of a stopped or killed run to carry on to its end (vertex: re-attach to its job)",
    "dry_run": "validate and print the plan (vertex: the exact REST request and a cost estimate); run nothing",
    "data_root": f"what {{data}} in the trainer args expands to (local default {DEFAULT_DATA}, the built-in "
                 "dataset; vertex default: the stack's data_root)",
    "seed": "seed of the search algorithm (local)",
    "trial_timeout": "seconds after which a trial is stopped: FAILED locally, INFEASIBLE on vertex "
                     "(trialJobSpec.scheduling.timeout; Vertex AI's default is 7 days)",
    "stack": "vertex: the Pulumi stack <team>-<project> whose outputs to run against",
    "outputs": "vertex: a JSON file of `pulumi stack output --json`, where the Pulumi CLI is not installed",
    "detach": "vertex: submit and return at once",
    "minutes_per_trial": "vertex: expected minutes per trial, for the cost estimate (10)",
    "prices": "vertex: a YAML price table over jobs/vertex/prices.yaml",
    "max_cost": "vertex: override trials.max_cost, the most the sweep may cost (the price table's currency); "
                "the job is cancelled before its trials cross it",
})
def tune(c, spec=None, backend=None, trials=None, parallel=None, run_id=None, smoke=False, resume=None,
         dry_run=False, data_root=None, seed=None, trial_timeout=None, stack=None, outputs=None, detach=False,
         minutes_per_trial=None, prices=None, max_cost=None):
    """Run a hyperparameter sweep described by a spec, with live progress; name the best trial."""
    from jobs import backends
    from jobs.console.text import user_console

    request = backends.TuneRequest(
        spec=spec, run_id=run_id, resume=resume, trials=integer(trials, "--trials", 1),
        parallel=integer(parallel, "--parallel", 1), smoke=smoke, dry_run=dry_run, data_root=data_root,
        trial_timeout=positive(trial_timeout, "--trial-timeout", "of seconds"), options=given(
            seed=integer(seed, "--seed", 0), stack=stack, outputs=outputs, detach=detach,
            minutes_per_trial=positive(minutes_per_trial, "--minutes-per-trial", "of minutes"), prices=prices,
            max_cost=positive(max_cost, "--max-cost", "(in the price table's currency)")))
    exit_with(guarded("tune", lambda: backends.tune(request, backend, user_console())))


@task(iterable=["run_id"], help={
    "run_id": "run to report; repeat it (--run-id a --run-id b) for one report comparing the runs",
    "latest": "report the newest run under runs/",
    "out": "folder or gs:// prefix for the report (default: the run's folder; several runs: "
           "runs/compare-<a>-vs-<b>; --teams: runs/teams)",
    "teams": "the team view instead: the sweeps of the period by team and project, with trials and cost (runs/ and, "
             "with credentials, the Vertex AI jobs labelled with each team of infra/stacks/), as a table and "
             "teams.csv, teams.md",
    "since": "with --teams: the period, days back (30d, the default) or a date (2026-01-31)",
})
def report(c, run_id=None, latest=False, out=None, teams=False, since=None):
    """Every trial's parameters and metrics: trials.csv, report.md, report.html with plots, a summary."""
    from jobs.console.text import user_console
    from jobs.report import report as write_report
    from jobs.run.folder import RUNS_DIR

    if teams or since:
        exit_with(_team_view(teams, run_id or latest, since, out))
        return
    exit_with(guarded("report", lambda: write_report(run_id or [], latest=latest, out=out, runs_dir=RUNS_DIR,
                                                       console=user_console())))


def _team_view(teams: bool, runs_named: bool, since: str | None, out: str | None) -> int:
    """``report --teams``: the team view over runs/ and the Vertex AI jobs of the stacks' teams."""
    from infra.fleet import places, read_stacks
    from jobs.console.text import user_console
    from jobs.errors import UserError
    from jobs.report.teams import DEFAULT_SINCE, parse_since, team_report
    from jobs.run.folder import RUNS_DIR

    if not teams:
        raise Exit("report: --since goes with --teams (the team view); leave it out to report runs", code=2)
    if runs_named:
        raise Exit("report: --teams reports every run of the period: leave out --run-id and --latest", code=2)
    start = guarded("report", lambda: parse_since(since or DEFAULT_SINCE))
    try:
        where = places(read_stacks())
    except UserError:  # no stack files here: runs/ alone
        where = []
    return guarded("report", lambda: team_report(RUNS_DIR, start, out or str(RUNS_DIR / "teams"), user_console(),
                                                 where))


@task(help={"run_id": "the run to show (a folder under runs/)"})
def status(c, run_id):
    """Show where a run stands: its trials, states, values and the best so far (local or vertex)."""
    help_if_asked("status", run_id)
    _on_run(run_id, "status")


@task(help={"run_id": "the run to stop (a folder under runs/)"})
def cancel(c, run_id):
    """Stop a running sweep: its orchestrator (local, resumable) or its Vertex AI job."""
    help_if_asked("cancel", run_id)
    _on_run(run_id, "cancel")


def _on_run(run_id: str, action: str) -> None:
    """Show or stop a run through the backend that ran it."""
    from jobs.backends import on_run
    from jobs.console.text import user_console

    exit_with(guarded(action, lambda: on_run(action, run_id, user_console())))
