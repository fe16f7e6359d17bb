"""infra.onboard: the stack file it writes, the errors it raises, the pulumi commands it gives."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from infra import onboard
from infra.config import StackConfig
from tests.support.helpers import invoke
from tests.support.pulumi_mocks import REPO

GOOD = {"project": "acme-ml", "team": "vision", "region": "europe-west4",
        "launchers": ["user:ann@example.com", "group:vision@example.com"]}


def test_written_file_loads_back_into_the_stack_config(tmp_path):
    path = onboard.write_stack_config(**GOOD, out_dir=tmp_path, budget_amount=300,
                                      billing_account="012345-6789AB-CDEF01", project_number="123456789012",
                                      artifacts_retention_days=30, build_image=False)
    assert path == tmp_path / "Pulumi.vision-acme-ml.yaml"
    config = StackConfig.from_stack_file(path)
    assert (config.project, config.team, config.region) == ("acme-ml", "vision", "europe-west4")
    assert config.launchers == GOOD["launchers"]
    assert (config.budget_amount, config.artifacts_retention_days) == (300, 30)
    assert yaml.safe_load(path.read_text())["config"]["sweeps:budgetAmount"] == 300
    assert config.build_image is False  # `invoke infra.onboard --no-image`: pulumi up without Docker


def test_rewriting_keeps_what_pulumi_and_people_added(tmp_path):
    path = onboard.write_stack_config(**GOOD, out_dir=tmp_path, versioning=True)
    document = yaml.safe_load(path.read_text())
    document["encryptionsalt"] = "v1:abc"
    document["config"]["gcp:zone"] = "europe-west4-a"
    path.write_text(yaml.safe_dump(document))
    onboard.write_stack_config(**{**GOOD, "launchers": ["user:bob@example.com"]}, out_dir=tmp_path)
    rewritten = yaml.safe_load(path.read_text())
    assert rewritten["encryptionsalt"] == "v1:abc"
    assert rewritten["config"]["gcp:zone"] == "europe-west4-a"
    assert rewritten["config"]["sweeps:launchers"] == ["user:bob@example.com"]
    assert "sweeps:versioning" not in rewritten["config"]


@pytest.mark.parametrize("field, value, says", [
    ("project", "Acme_ML", "gcp:project: 'Acme_ML' is not a GCP project id"),
    ("region", "mars-north1", "gcp:region: 'mars-north1' is not a Vertex AI training region"),
    ("team", "Vision", "sweeps:team: 'Vision' is not a team name"),
    ("launchers", ["ann@example.com"], "sweeps:launchers[0]: 'ann@example.com' is not a launcher member"),
    ("launchers", ["domain:example.com"], "'domain:example.com' is not a launcher member"),
])
def test_bad_values_raise_value_error_naming_them(tmp_path, field, value, says):
    with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
        onboard.write_stack_config(**{**GOOD, field: value}, out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_unknown_and_bad_options_are_errors(tmp_path):
    with pytest.raises(ValueError, match="sweeps:budget_amout: unknown key"):
        onboard.write_stack_config(**GOOD, out_dir=tmp_path, budget_amout=100)
    with pytest.raises(ValueError, match="sweeps:trainerImage: '.*:latest' is not an image reference by digest"):
        onboard.write_stack_config(**GOOD, out_dir=tmp_path, trainer_image="us-docker.pkg.dev/p/r/t:latest")


NO_STACK_FILE = "not a stack file: expected a mapping with a `config:` mapping of keys"
DAMAGED = [("- a list\n", NO_STACK_FILE), ("config: [1]\n", NO_STACK_FILE),
           ("{bad\n", "not valid YAML (expected ',' or '}', but got '<stream end>' at line 2)")]


@pytest.mark.parametrize("text, says", DAMAGED)
def test_a_damaged_stack_file_is_refused_naming_it_and_left_as_it_was(tmp_path, text, says):
    path = tmp_path / "Pulumi.vision-acme-ml.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        onboard.write_stack_config(**GOOD, out_dir=tmp_path)
    assert str(refused.value) == f"{path}: {says}: fix the file, or remove it to start afresh"
    assert path.read_text() == text


def test_rewriting_replaces_sweeps_keys_that_are_no_longer_valid(tmp_path):
    path = tmp_path / "Pulumi.vision-acme-ml.yaml"
    path.write_text(yaml.safe_dump({"config": {"sweeps:budgetAmount": -1, "sweeps:bogus": 1, "gcp:zone": "z"}}))
    onboard.write_stack_config(**GOOD, out_dir=tmp_path)
    assert StackConfig.from_stack_file(path).team == "vision"
    assert yaml.safe_load(path.read_text())["config"]["gcp:zone"] == "z"


def test_invoke_onboard_over_a_damaged_stack_file_is_one_line(checkout):
    path = checkout / "infra" / "stacks" / "Pulumi.vision-acme-ml.yaml"
    for text, says in DAMAGED:
        path.write_text(text)
        done = invoke("infra.onboard", "--project", "acme-ml", "--team", "vision", "--region", "europe-west4",
                      "--no-up", root=checkout, cwd=checkout)
        assert done.returncode == 2, done
        assert done.stderr == f"infra.onboard: {path}: {says}: fix the file, or remove it to start afresh\n", \
            done.stderr
        assert path.read_text() == text


def test_stack_commands():
    assert onboard.stack_command("up", "vision-acme-ml") == [
        "pulumi", "up", "--stack", "vision-acme-ml", "--cwd", str(REPO), "--policy-pack", str(onboard.POLICY_PACK)]
    assert onboard.stack_command("preview", "vision-acme-ml", policy=False) == [
        "pulumi", "preview", "--stack", "vision-acme-ml", "--cwd", str(REPO)]
    assert "--policy-pack" not in onboard.stack_command("destroy", "vision-acme-ml")
    assert onboard.stack_command("select", "vision-acme-ml")[:4] == ["pulumi", "stack", "select", "--create"]
    with pytest.raises(ValueError, match="unknown action 'apply'"):
        onboard.stack_command("apply", "vision-acme-ml")


def test_pulumi_available_looks_on_path(monkeypatch):
    monkeypatch.setattr(onboard.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert onboard.pulumi_available()
    monkeypatch.setattr(onboard.shutil, "which", lambda name: None)
    assert not onboard.pulumi_available()


def test_importing_onboard_leaves_pulumi_unloaded():
    probe = "import sys, infra.onboard; print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert loaded.stdout.strip() == "[]"
