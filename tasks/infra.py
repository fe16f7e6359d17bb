"""The infra tasks, ``invoke infra.<task>``: onboard a project (write its stack config) and preview, deploy or
destroy its stack with Pulumi, the policy pack checked on every preview and update; for many stacks, the fleet view,
preview and up over every stack (or a team's) and drift. Each parses its flags and calls ``infra.onboard`` or
``infra.fleet``."""

from __future__ import annotations

import shlex
import sys

from invoke import Exit

from .flags import exit_with, guarded, required, task


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
             "the package route on a prebuilt container, which needs one Google still serves "
             "(jobs/vertex/containers.py has the dates; prefer --no-docker)",
    "docker": "build the trainer image with the Docker engine where pulumi up runs (default true); --no-docker: "
              "Cloud Build builds it (sweeps:imageBuilder: cloudbuild), with no Docker needed",
})
def onboard(c, project=None, team=None, region=None, launchers="", budget=None, billing_account=None,
            project_number=None, up=True, image=True, docker=True):
    """Write a validated stack config infra/stacks/Pulumi.<team>-<project>.yaml; then pulumi up."""
    required("infra.onboard", project=project, team=team, region=region)
    from infra.onboard import pulumi_available, write_stack_config

    options = {k: v for k, v in {"budget_amount": budget, "billing_account": billing_account,
                                 "project_number": project_number}.items() if v}
    if not (image or docker):
        raise Exit("infra.onboard: --no-docker has Cloud Build build the trainer image and --no-image builds none: "
                   "give one of them", code=2)
    if not image:
        options["build_image"] = False
    if not docker:
        options["image_builder"] = "cloudbuild"
    try:
        path = write_stack_config(project, team, region, [m for m in launchers.split(",") if m], **options)
    except ValueError as exc:
        raise Exit(f"infra.onboard: {exc}", code=2) from None
    stack = f"{team}-{project}"
    print(f"wrote {path}")
    if up and pulumi_available():
        _pulumi(c, "up", stack)
    else:
        print(f"next: invoke infra.preview --stack {stack}, then invoke infra.up --stack {stack}")


def _pulumi(c, action: str, stack: str | None, policy: bool = True, extra: tuple[str, ...] = ()) -> None:
    from infra.onboard import CHECKED, ensure_policy_env, policy_check, pulumi_available, stack_command

    required(f"infra.{action}", stack=stack)
    if not pulumi_available():
        raise Exit(NO_PULUMI, code=2)
    warning = guarded(f"infra.{action}", lambda: policy_check(action, stack, policy))
    if warning:
        print(warning, file=sys.stderr)
    if policy and action in CHECKED:
        guarded(f"infra.{action}", lambda: ensure_policy_env(lambda line: print(line, file=sys.stderr)))
    c.run(shlex.join(stack_command("select", stack)))
    c.run(shlex.join([*stack_command(action, stack, policy), *extra]), pty=sys.stdout.isatty())


def _over_fleet(action: str, stack: str | None, all_: bool, team: str | None, keep_going: bool = False,
                policy: bool = True, **options: bool) -> None:
    """``action`` over every stack (``all_``) or a team's, in turn, then the summary table; exit 1 when a stack
    failed or drifted."""
    from infra.fleet import RUN_COLUMNS, conclusion, pick, read_stacks, run_stacks
    from infra.onboard import CHECKED, ensure_policy_env, policy_check, pulumi_available
    from jobs.console.render import rows_table
    from jobs.console.text import user_console

    name = f"infra.{action}"
    if stack and (all_ or team):
        raise Exit(f"{name}: --stack names one stack and --all/--team select many: give one of them", code=2)
    if not (all_ or team or stack):
        raise Exit(f"{name}: --stack, --all or --team required; `invoke --help {name}` lists every flag", code=2)
    stacks = guarded(name, lambda: pick(read_stacks(), team) if all_ or team else
                     [s for s in read_stacks() if s.name == stack] or _no_stack_file(stack))
    if not pulumi_available():
        raise Exit(NO_PULUMI, code=2)
    warnings = {guarded(name, lambda s=s: policy_check(action, s.name, policy)) for s in stacks} - {None}
    for warning in warnings:  # --no-policy: refused above unless every stack file allows it
        print(warning, file=sys.stderr)
    checked = policy and action in CHECKED
    if checked:
        guarded(name, lambda: ensure_policy_env(lambda line: print(line, file=sys.stderr)))
    results = run_stacks(action, stacks, keep_going, policy=checked, **options)
    console = user_console()
    console.print(rows_table(f"{action}: {len(stacks)} stack{'s' if len(stacks) > 1 else ''}", RUN_COLUMNS,
                             (r.cells() for r in results)))
    lines, status = conclusion(action, results)
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
    exit_with(status)


def _no_stack_file(stack: str):
    from infra.onboard import STACKS
    from jobs.errors import UserError

    raise UserError(f"--stack {stack}: no stack file {STACKS / f'Pulumi.{stack}.yaml'}: onboard it with invoke "
                    "infra.onboard, or name a stack there")


NO_PULUMI = "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), then `pulumi login`"
POLICY_HELP = ("check the stack against the policy pack infra/policypack (default true; its config file "
               "infra/policypack/config.json when present); infra.up --no-policy needs sweeps:allowNoPolicy: true "
               "in the stack file")


FLEET_HELP = {
    "all_": "every stack file in infra/stacks/ in turn (not the example ones), with a summary table at the end",
    "team": "every stack of this team in turn (sweeps:team), with a summary table at the end",
    "keep_going": "with --all or --team: carry on past a stack that fails or breaks a mandatory policy (the "
                  "default stops there); the exit status is 1 when any failed",
}


@task(positional=[], help={"stack": "the stack, <team>-<project>", "policy": POLICY_HELP, **FLEET_HELP})
def preview(c, stack=None, policy=True, all_=False, team=None, keep_going=False):
    """Show what pulumi up would change for a stack (or every stack), and what the policy pack says of it."""
    if all_ or team:
        _over_fleet("preview", stack, all_, team, keep_going, policy)
    else:
        _pulumi(c, "preview", stack, policy)


@task(positional=[], help={"stack": "the stack, <team>-<project>", "policy": POLICY_HELP, **FLEET_HELP,
                           "yes": "update without asking first (pulumi up --yes); needed where there is no terminal"})
def up(c, stack=None, policy=True, all_=False, team=None, keep_going=False, yes=False):
    """Create or update a project's APIs, bucket, IAM, repository and trainer image; a mandatory policy stops it."""
    if all_ or team:
        _over_fleet("up", stack, all_, team, keep_going, policy, yes=yes)
    else:
        _pulumi(c, "up", stack, policy, ("--yes",) if yes else ())


@task(positional=[], help={
    "stack": "the stack, <team>-<project>", "all_": FLEET_HELP["all_"], "team": FLEET_HELP["team"],
    "refresh": "read the resources from the cloud first (pulumi preview --refresh; default true), so changes made "
               "outside Pulumi show; --no-refresh compares the program with the recorded state only",
})
def drift(c, stack=None, all_=False, team=None, refresh=True):
    """Which stacks drifted: pulumi preview --expect-no-changes on each; exit status 1 when any did."""
    _over_fleet("drift", stack, all_, team, refresh=refresh)


@task(positional=[], help={
    "json_": "print the view as JSON (stacks, problems, notes) for scripts",
    "since": "the period of the sweeps counted: days back (30d, the default) or a date (2026-01-31)",
})
def fleet(c, json_=False, since="30d"):
    """Every onboarded stack: team, project, region, routes, config check, last pulumi up, recent sweeps and cost."""
    import json

    from infra.fleet import FLEET_COLUMNS, fleet_view, read_stacks
    from jobs.console.render import rows_table
    from jobs.console.text import user_console
    from jobs.report.teams import parse_since
    from jobs.run.folder import RUNS_DIR

    start = guarded("infra.fleet", lambda: parse_since(since))
    view = guarded("infra.fleet", lambda: fleet_view(read_stacks(), start, RUNS_DIR))
    if json_:
        print(json.dumps(view.as_json(), indent=2))
    else:
        console = user_console()
        console.print(rows_table(f"{len(view.rows)} stacks; sweeps and cost since {start:%Y-%m-%d}", FLEET_COLUMNS,
                                 (row.cells() for row in view.rows), right=("sweeps", "cost")))
        for line in [*(f"problem: {p}" for p in view.problems), *view.notes]:
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    exit_with(2 if any(row.stack.problem for row in view.rows) else 0)


@task(positional=[], help={"stack": "the stack, <team>-<project>"})
def destroy(c, stack=None):
    """Delete what up created for a stack (APIs stay enabled; empty the bucket first)."""
    _pulumi(c, "destroy", stack)
