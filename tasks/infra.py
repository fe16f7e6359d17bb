"""The infra tasks, ``invoke infra.<task>``: onboard a project (write its stack config) and preview, deploy or
destroy its stack with Pulumi, the policy pack checked on every preview and update. Each parses its flags and calls
``infra.onboard``."""

from __future__ import annotations

import shlex
import sys

from invoke import Exit

from .flags import guarded, required, task


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


def _pulumi(c, action: str, stack: str | None, policy: bool = True) -> None:
    from infra.onboard import CHECKED, ensure_policy_env, policy_check, pulumi_available, stack_command

    required(f"infra.{action}", stack=stack)
    if not pulumi_available():
        raise Exit("the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), "
                   "then `pulumi login`", code=2)
    warning = guarded(f"infra.{action}", lambda: policy_check(action, stack, policy))
    if warning:
        print(warning, file=sys.stderr)
    if policy and action in CHECKED:
        guarded(f"infra.{action}", lambda: ensure_policy_env(lambda line: print(line, file=sys.stderr)))
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
