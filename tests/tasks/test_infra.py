"""The infra tasks (tasks/infra.py) as a user runs them, before anything reaches Pulumi. Onboarding and the policy
checks end to end are in tests/infra/test_onboard.py, test_cloudbuild.py and test_policy_guard.py."""

from __future__ import annotations

import os

from tests.support.helpers import invoke


def test_onboard_without_its_required_flags_is_one_line_naming_them(tmp_path):
    done = invoke("infra.onboard", "--team", "vision", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "infra.onboard: --project, --region required; `invoke --help infra.onboard` lists every flag\n")
    assert list(tmp_path.iterdir()) == []


def test_a_stack_task_without_the_pulumi_cli_says_how_to_install_it(tmp_path):
    done = invoke("infra.preview", "--stack", "vision-acme-ml", cwd=tmp_path, env={**os.environ, "PATH": str(tmp_path)})
    assert (done.returncode, done.stderr) == (
        2, "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/), then `pulumi login`\n")
