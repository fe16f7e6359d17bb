"""The whole program (infra/__main__.py) as ``pulumi up`` runs it, and projects side by side."""

from __future__ import annotations

import pulumi
import pytest

from infra import policy
from infra.config import CiConfig, StackConfig
from infra.project import APIS, BUDGET_APIS
from tests.support.pulumi_mocks import EXAMPLE, deploy, project_outputs, run_main

OUTPUTS = {"project", "region", "bucket", "data_root", "artifacts_root", "staging", "trainer_service_account",
           "team", "image", "repository", "routes"}


def test_example_stack_config_is_valid():
    config = StackConfig.from_stack_file(EXAMPLE)
    assert config.names.stack == "ml-research-my-ml-project"
    documented = EXAMPLE.read_text()
    missing = [field.alias for field in StackConfig.model_fields.values() if f":{field.alias}:" not in documented]
    assert not missing, f"keys not documented in {EXAMPLE.name}: {missing}"


def test_program_runs_the_example_stack_to_the_end(example_keys, monkeypatch):
    deployed = deploy(run_main(example_keys, monkeypatch), stack="ml-research-my-ml-project")
    counts = {}
    for resource in deployed.resources:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    launchers = len(example_keys["sweeps:launchers"])
    assert counts == {
        "sweeps:infra:Project": 1,
        "gcp:projects/service:Service": len(APIS + BUDGET_APIS),
        "gcp:storage/bucket:Bucket": 1,
        "gcp:serviceaccount/account:Account": 1,
        "gcp:storage/bucketIAMMember:BucketIAMMember": 1 + launchers,
        "gcp:projects/iAMMember:IAMMember": 1 + launchers,
        "gcp:serviceaccount/iAMMember:IAMMember": launchers,
        "gcp:artifactregistry/repository:Repository": 1,
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": 2 * launchers,  # read and tag
        "gcp:projects/iAMCustomRole:IAMCustomRole": 1,
        "docker-build:index:Image": 1,
        "gcp:billing/budget:Budget": 1,
    }
    (bucket,) = deployed.of_type("gcp:storage/bucket:Bucket")  # typed values arrive as Pulumi passes them
    assert bucket.inputs["versioning"] == {"enabled": True} and len(bucket.inputs["lifecycleRules"]) == 3
    assert set(deployed.outputs) == OUTPUTS
    assert deployed.outputs["data_root"] == "gs://my-ml-project-ml-research-sweeps/data"
    assert policy.check(deployed.resources, deployed.outputs) == []


def test_program_rejects_a_bad_stack_config_naming_the_key(example_keys, monkeypatch):
    keys = {**example_keys, "sweeps:team": "Vision", "gcp:region": "moon-central1"}
    with pytest.raises(pulumi.RunError, match=r"gcp:region: 'moon-central1' is not .*; sweeps:team: 'Vision' is not"):
        deploy(run_main(keys, monkeypatch))


def test_program_names_the_stack_file_and_the_key_of_a_bad_ci_repository(example_keys, monkeypatch):
    keys = {**example_keys, "sweeps:ci": {"repository": "acme vision"}}
    with pytest.raises(pulumi.RunError, match=r"^infra/stacks/Pulumi\.ml-research-my-ml-project\.yaml: "
                                              r"sweeps:ci\.repository: 'acme vision' is not a GitHub repository"):
        deploy(run_main(keys, monkeypatch), stack="ml-research-my-ml-project")


def test_two_projects_in_one_program_do_not_clash(config):
    # Two teams in one GCP project, and another project for one of them: every name differs.
    config = config.model_copy(update={"ci": CiConfig(repository="acme/vision")})
    others = [config.model_copy(update={"team": "speech"}), config.model_copy(update={"project": "acme-ml-2"})]
    deployed = deploy(lambda: {f"{c.names.stack}:{key}": value
                               for c in (config, *others) for key, value in project_outputs(c).items()})
    assert len(set(deployed.urns)) == len(deployed.resources), "two resources share a URN"
    for physical in ("bucket", "trainer_service_account", "repository", "data_root"):
        values = [deployed.outputs[f"{c.names.stack}:{physical}"] for c in (config, *others)]
        assert len(set(values)) == 3, (physical, values)
    assert policy.check(deployed.resources, deployed.outputs) == []
