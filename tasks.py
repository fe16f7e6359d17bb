"""Invoke tasks: thin wrappers that parse flags and call into ``jobs``.

Heavy libraries (torch, pandas, aiplatform) are imported inside the tasks, so ``invoke --list``
and ``--help`` answer at once.
"""

from __future__ import annotations

import errno
import functools
import os
import shlex
import subprocess
import sys

import invoke
from invoke import Collection, Exit
from invoke.parser import Argument

from jobs.data.defaults import DEFAULT_DATA, DEFAULT_SPEC, ensure_default_data

INTEGER_FLAGS = {"trials", "parallel", "seed", "budget"}
WRITE_REFUSED = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}  # the disk or folder says no
PATH_REFUSED = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP}  # the path itself cannot be used


class _LenientInt(Argument):
    """An integer flag: INT in --help, and a value that is not an integer reaches the task as text, which says
    what is wrong in one line (Invoke's own int() would end in a traceback)."""

    def set_value(self, value, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except ValueError:
            super().set_value(value, cast=False)


class _Task(invoke.Task):
    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            if argument.name in INTEGER_FLAGS:
                argument.__class__, argument.kind = _LenientInt, int
        return arguments


# No short flags: Invoke would hand out -h (taken by --help) and others by first letter, so `invoke tune -h`
# would start a sweep. Every flag is spelled out; -h and --help always show help.
task = functools.partial(invoke.task, auto_shortflags=False, klass=_Task)


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

    fraction = _positive(val_fraction, "--val-fraction", "(a share below 1)", "data")
    if fraction >= 1:
        raise Exit(f"data: --val-fraction must be below 1, got {val_fraction!r}", code=2)
    seed = _int(seed, "--seed", 0, "data")
    prepared, files = _guarded("data", lambda: prepare_to(
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
    status = subprocess.call(command, env={**os.environ, "AIP_MODEL_DIR": out})
    if status:
        raise Exit(code=status)


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
    "prices": "vertex: a YAML price table over jobs/prices.yaml",
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
        spec=spec, run_id=run_id, resume=resume, trials=_int(trials, "--trials", 1),
        parallel=_int(parallel, "--parallel", 1), smoke=smoke, dry_run=dry_run, data_root=data_root,
        trial_timeout=_positive(trial_timeout, "--trial-timeout", "of seconds"), seed=_int(seed, "--seed", 0),
        stack=stack, outputs=outputs, detach=detach,
        minutes_per_trial=_positive(minutes_per_trial, "--minutes-per-trial", "of minutes"), prices=prices,
        max_cost=_positive(max_cost, "--max-cost", "(in the price table's currency)"))
    status = _guarded("tune", lambda: backends.tune(request, backend, user_console()))
    if status:
        raise Exit(code=status)


@task(iterable=["run_id"], help={
    "run_id": "run to report; repeat it (--run-id a --run-id b) for one report comparing the runs",
    "latest": "report the newest run under runs/",
    "out": "folder or gs:// prefix for the report (default: the run's folder; several runs: "
           "runs/compare-<a>-vs-<b>)",
})
def report(c, run_id=None, latest=False, out=None):
    """Every trial's parameters and metrics: trials.csv, report.md, report.html with plots, a summary."""
    from jobs.console.text import user_console
    from jobs.report import report as write_report
    from jobs.run.folder import RUNS_DIR

    status = _guarded("report", lambda: write_report(run_id or [], latest=latest, out=out, runs_dir=RUNS_DIR,
                                                     console=user_console()))
    if status:
        raise Exit(code=status)


@task(help={"run_id": "the run to show (a folder under runs/)"})
def status(c, run_id):
    """Show where a run stands: its trials, states, values and the best so far (local or vertex)."""
    _help_if_asked("status", run_id)
    _on_run(run_id, "status")


@task(help={"run_id": "the run to stop (a folder under runs/)"})
def cancel(c, run_id):
    """Stop a running sweep: its orchestrator (local, resumable) or its Vertex AI job."""
    _help_if_asked("cancel", run_id)
    _on_run(run_id, "cancel")


def _help_if_asked(name: str, value: str) -> None:
    """Invoke hands a `-h` or `--help` after a task to the task's positional argument: show the task's help
    instead of running it."""
    if value in ("-h", "--help"):
        done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", os.path.dirname(__file__) or ".",
                               "--help", name])
        raise Exit(code=done.returncode)


def _required(name: str, **values) -> None:
    missing = [f"--{flag.replace('_', '-')}" for flag, value in values.items() if value in (None, "")]
    if missing:
        raise Exit(f"{name}: {', '.join(missing)} required; `invoke --help {name}` lists every flag", code=2)


def _on_run(run_id: str, action: str) -> None:
    from jobs.backends import on_run
    from jobs.console.text import user_console

    status = _guarded(action, lambda: on_run(action, run_id, user_console()))
    if status:
        raise Exit(code=status)


def _guarded(name: str, call):
    """Run a command; an error the user can fix is one line and exit status 2, a cloud service's 1 (missing
    or expired Google Cloud credentials included)."""
    from jobs.errors import ServiceError, UserError, auth_problem

    try:
        from google.auth.exceptions import GoogleAuthError
    except ModuleNotFoundError:  # installed without the vertex extra: no Google client to raise it
        GoogleAuthError = ()  # catches nothing

    try:
        return call()
    except UserError as exc:
        raise Exit(f"{name}: {exc}", code=2) from None
    except ServiceError as exc:
        raise Exit(f"{name}: {exc}", code=1) from None
    except GoogleAuthError as exc:
        problem = auth_problem(exc)
        if problem is None:
            raise
        raise Exit(f"{name}: {problem}", code=1) from None
    except OSError as exc:
        if exc.errno in PATH_REFUSED:
            path = str(exc.filename or "a path")
            shown = path if len(path) <= 160 else f"{path[:120]}... ({len(path):,} characters)"
            raise Exit(f"{name}: cannot use {shown}: {exc.strerror}: pick another path"
                       + (" (--out)" if name == "report" else "") + ", then run the same command again",
                       code=2) from None
        if exc.errno not in WRITE_REFUSED:
            raise
        raise Exit(f"{name}: cannot write {exc.filename or 'a file'}: {exc.strerror}. Free some space or fix the "
                   "folder's permissions" + (", or write the report elsewhere with --out" if name == "report" else "")
                   + ", then run the same command again", code=2) from None


def _positive(value, flag: str, unit: str, task_name: str = "tune") -> float | None:
    """A positive number (``unit`` says of what, for the error), or None when the flag was not given."""
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise Exit(f"{task_name}: {flag} must be a positive number {unit}, got {value!r}", code=2)
    return seconds


def _int(value, flag: str, minimum: int, task_name: str = "tune") -> int | None:
    """An integer of at least ``minimum``, or None when the flag was not given."""
    if value in (None, ""):
        return None
    if (isinstance(value, str) and not value.strip().lstrip("-").isdigit()) or int(value) < minimum:
        raise Exit(f"{task_name}: {flag} must be an integer >= {minimum}, got {value!r}", code=2)
    return int(value)


@task(positional=[], help={
    "project": "GCP project id of the project to onboard",
    "team": "owning team (1-22 characters: a-z, 0-9, -); the stack is <team>-<project>",
    "region": "Vertex AI region, e.g. us-central1",
    "launchers": "comma-separated user:/group:/serviceAccount: members allowed to launch sweeps",
    "budget": "monthly budget amount in the billing account's currency (needs --billing-account)",
    "billing_account": "billing account id XXXXXX-XXXXXX-XXXXXX, for the budget",
    "project_number": "the project's number, for the budget (gcloud projects describe PROJECT "
                      "--format='value(projectNumber)')",
    "up": "run pulumi up after writing the config, where the Pulumi CLI is installed (default true)",
    "image": "build the trainer image (default true); --no-image: none is built, and trials on Vertex AI take "
             "the package route on a prebuilt container, which needs one Google still serves (jobs/containers.py "
             "has the dates; prefer --no-docker)",
    "docker": "build the trainer image with the Docker engine where pulumi up runs (default true); --no-docker: "
              "Cloud Build builds it (sweeps:imageBuilder: cloudbuild), with no Docker needed",
})
def onboard(c, project=None, team=None, region=None, launchers="", budget=None, billing_account=None,
            project_number=None, up=True, image=True, docker=True):
    """Write a validated stack config infra/stacks/Pulumi.<team>-<project>.yaml; then pulumi up."""
    _required("onboard", project=project, team=team, region=region)
    from jobs.onboard import pulumi_available, write_stack_config

    options = {k: v for k, v in {"budget_amount": budget, "billing_account": billing_account,
                                 "project_number": project_number}.items() if v}
    if not (image or docker):
        raise Exit("onboard: --no-docker has Cloud Build build the trainer image and --no-image builds none: "
                   "give one of them", code=2)
    if not image:
        options["build_image"] = False
    if not docker:
        options["image_builder"] = "cloudbuild"
    try:
        path = write_stack_config(project, team, region, [m for m in launchers.split(",") if m], **options)
    except ValueError as exc:
        raise Exit(f"onboard: {exc}", code=2) from None
    stack = f"{team}-{project}"
    print(f"wrote {path}")
    if up and pulumi_available():
        _pulumi(c, "up", stack)
    else:
        print(f"next: invoke infra.preview --stack {stack}, then invoke infra.up --stack {stack}")


def _pulumi(c, action: str, stack: str | None, policy: bool = True) -> None:
    from jobs.onboard import CHECKED, ensure_policy_env, policy_check, pulumi_available, stack_command

    _required(f"infra.{action}", stack=stack)
    if not pulumi_available():
        raise Exit("the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), "
                   "then `pulumi login`", code=2)
    warning = _guarded(f"infra.{action}", lambda: policy_check(action, stack, policy))
    if warning:
        print(warning, file=sys.stderr)
    if policy and action in CHECKED:
        _guarded(f"infra.{action}", lambda: ensure_policy_env(lambda line: print(line, file=sys.stderr)))
    c.run(shlex.join(stack_command("select", stack)))
    c.run(shlex.join(stack_command(action, stack, policy)), pty=sys.stdout.isatty())


POLICY_HELP = ("check the stack against the policy pack infra/policypack (default true; its config file "
               "infra/policypack/config.json when present); infra.up --no-policy needs sweeps:allowNoPolicy: true "
               "in the stack file")


@task(positional=[], help={"stack": "the stack, <team>-<project>", "policy": POLICY_HELP})
def preview(c, stack=None, policy=True):
    """Show what pulumi up would change for a stack, and what the policy pack says of it."""
    _pulumi(c, "preview", stack, policy)


@task(positional=[], help={"stack": "the stack, <team>-<project>", "policy": POLICY_HELP})
def up(c, stack=None, policy=True):
    """Create or update a project's APIs, bucket, IAM, repository and trainer image; a mandatory policy stops it."""
    _pulumi(c, "up", stack, policy)


@task(positional=[], help={"stack": "the stack, <team>-<project>"})
def destroy(c, stack=None):
    """Delete what up created for a stack (APIs stay enabled; empty the bucket first)."""
    _pulumi(c, "destroy", stack)


namespace = Collection(data, train, tune, report, status, cancel, onboard)
namespace.add_collection(Collection("infra", preview, up, destroy))
