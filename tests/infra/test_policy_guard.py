"""What invoke infra.preview / infra.up check before pulumi runs: the policy pack's config file cannot lower a
mandatory policy, and an update skips the pack only where the stack file allows it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from infra import onboard, policy
from infra.config import ConfigError
from tests.support.helpers import invoke
from tests.support.pulumi_mocks import REPO

STACK = "ml-research-my-ml-project"  # the example stack's name
SKIPPED = ", ".join(sorted(policy.MANDATORY))


def _stack_file(stacks: Path, **keys) -> Path:
    document = yaml.safe_load((REPO / "infra" / "stacks" / "Pulumi.example.yaml").read_text())
    document["config"].update(keys)
    path = stacks / f"Pulumi.{STACK}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("text, says", [
    ('{"all": "disabled"}', "'all' sets the level 'disabled'"),
    ('{"all": {"enforcementLevel": "advisory"}}', "'all' sets the level 'advisory'"),
    ('{"no-public-members": "disabled"}', "'no-public-members' sets the level 'disabled'"),
    ('{"stack-outputs-by-digest": {"enforcementLevel": "advisory"}}', "'stack-outputs-by-digest' sets the level"),
    ('{"all": "advisory", "no-primitive-roles": "mandatory"}', "which would lower the mandatory policies act-as"),
    ('{"all": ', "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('"disabled"', "must be a JSON object"),
])
def test_a_pack_config_lowering_a_mandatory_policy_is_refused(tmp_path, text, says):
    config = tmp_path / "config.json"
    config.write_text(text)
    with pytest.raises(ConfigError) as refused:
        onboard.policy_check("up", STACK, policy=True, config=config, stacks=tmp_path)
    message = str(refused.value)
    assert message.startswith(f"{config}: ") and says in message and "\n" not in message, message


@pytest.mark.parametrize("make, says", [
    (lambda path: path.symlink_to("/dev/zero"), "not a regular file"),
    (lambda path: os.mkfifo(path), "not a regular file"),
    (lambda path: path.write_text(" " * 1_000_001), "more than 1,000,000 bytes"),
])
def test_a_pack_config_that_is_a_device_a_fifo_or_huge_is_refused_without_hanging(tmp_path, make, says):
    config = tmp_path / "config.json"
    make(config)
    with pytest.raises(ConfigError, match=f"^{config}: {says}"):
        onboard.policy_check("up", STACK, policy=True, config=config, stacks=tmp_path)


@pytest.mark.parametrize("config", [
    {"labels-present": "disabled", "all": {"enforcementLevel": "mandatory"}},
    {"regions-allowed": {"allowedRegions": ["europe-west4"], "enforcementLevel": "advisory"}},
    {"all": "remediate"},
    {"all": "disabled", **{name: "mandatory" for name in policy.MANDATORY}},
])
def test_a_pack_config_keeping_mandatory_policies_passes(tmp_path, config):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert onboard.policy_check("preview", STACK, policy=True, config=path, stacks=tmp_path) is None
    assert onboard.policy_check("up", STACK, policy=True, config=tmp_path / "absent.json", stacks=tmp_path) is None


def test_an_update_skips_the_pack_only_where_the_stack_allows_it(tmp_path):
    absent = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match=f"skips the mandatory policies {SKIPPED}.*sweeps:allowNoPolicy: true"):
        onboard.policy_check("up", STACK, policy=False, config=absent, stacks=tmp_path)  # no stack file
    _stack_file(tmp_path)
    with pytest.raises(ConfigError, match="sweeps:allowNoPolicy"):
        onboard.policy_check("up", STACK, policy=False, config=absent, stacks=tmp_path)
    _stack_file(tmp_path, **{"sweeps:allowNoPolicy": True})
    assert SKIPPED in onboard.policy_check("up", STACK, policy=False, config=absent, stacks=tmp_path)
    assert onboard.policy_check("destroy", STACK, policy=True, config=absent, stacks=tmp_path) is None


@pytest.mark.parametrize("text, says", [("- a list\n", "not a stack file"), ("config: [1]\n", "not a stack file"),
                                        ("{bad\n", "not valid YAML (expected ',' or '}', but got '<stream end>' at")])
def test_a_damaged_stack_file_is_one_line(tmp_path, text, says):
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(text)
    with pytest.raises(ConfigError) as refused:
        onboard.policy_check("up", STACK, policy=False, config=tmp_path / "absent.json", stacks=tmp_path)
    assert f"Pulumi.{STACK}.yaml: {says}" in str(refused.value) and "\n" not in str(refused.value), refused.value


def _tasks(checkout: Path, *args: str):
    env = {**os.environ, "PATH": f"{checkout.parent / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = invoke(*args, root=checkout, cwd=checkout, env=env)
    calls = checkout.parent / "pulumi-calls"
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_invoke_refuses_a_pack_config_lowering_a_mandatory_policy_before_pulumi_runs(checkout):
    config = checkout / "infra" / "policypack" / "config.json"
    config.write_text('{"no-public-members": "disabled"}')
    result, calls = _tasks(checkout, "infra.up", "--stack", STACK)
    assert result.returncode == 2 and calls == [], (result, calls)
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert str(config) in result.stderr and "'no-public-members'" in result.stderr


def test_invoke_up_without_the_pack_is_refused_unless_the_stack_allows_it(checkout):
    result, calls = _tasks(checkout, "infra.up", "--stack", STACK, "--no-policy")
    assert result.returncode == 2 and calls == [], (result, calls)
    assert len(result.stderr.strip().splitlines()) == 1 and "sweeps:allowNoPolicy: true" in result.stderr

    result, calls = _tasks(checkout, "infra.preview", "--stack", STACK, "--no-policy")  # a preview changes nothing
    assert result.returncode == 0 and SKIPPED in result.stderr, result
    assert calls[-1].startswith("preview ") and "--policy-pack" not in calls[-1], calls

    _stack_file(checkout / "infra" / "stacks", **{"sweeps:allowNoPolicy": True})
    result, calls = _tasks(checkout, "infra.up", "--stack", STACK, "--no-policy")
    assert result.returncode == 0 and "WARNING" in result.stderr and SKIPPED in result.stderr, result
    assert calls[-1].startswith("up ") and "--policy-pack" not in calls[-1], calls


def test_a_preview_makes_the_pack_environment_the_engine_needs_when_it_is_missing(checkout):
    pack = checkout / "infra" / "policypack"
    (pack / "requirements.txt").write_text("# nothing to install: the test makes the environment only\n")
    result, calls = _tasks(checkout, "infra.preview", "--stack", STACK)
    assert result.returncode == 0, result
    assert result.stderr.strip() == (f"making the policy pack's environment {pack / 'venv'} from "
                                     f"{pack / 'requirements.txt'} (once)"), result.stderr
    assert (pack / "venv" / "bin" / "python").exists() and "--policy-pack" in calls[-1], calls
    result, _ = _tasks(checkout, "infra.preview", "--stack", STACK)
    assert result.returncode == 0 and result.stderr == "", result  # made once


def test_a_pack_environment_that_cannot_be_made_is_one_line_and_left_out(tmp_path):
    (tmp_path / "requirements.txt").write_text("./no-such-folder\n")  # refused by pip with no index needed
    said = []
    with pytest.raises(ConfigError) as failed:
        onboard.ensure_policy_env(said.append, pack=tmp_path)
    assert said == [f"making the policy pack's environment {tmp_path / 'venv'} from {tmp_path / 'requirements.txt'} "
                    "(once)"]
    assert str(failed.value).startswith(f"making {tmp_path / 'venv'} failed (") and "\n" not in str(failed.value)
    assert "run `make install`, then run the same command again" in str(failed.value)
    assert not (tmp_path / "venv").exists()
