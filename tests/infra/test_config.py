"""The stack config model: every rule, and errors that name the key and the value."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, StackConfig

BASE = {"gcp:project": "acme-ml", "gcp:region": "us-central1", "sweeps:team": "vision"}


def test_defaults_and_derived_names():
    config = StackConfig.from_keys({**BASE, "gcp:zone": "us-central1-a"})  # other gcp: keys are not ours
    assert (config.launchers, config.staging_retention_days, config.artifacts_retention_days) == ([], 7, None)
    assert (config.versioning, config.soft_delete_days, config.image_keep_count) == (False, 7, 5)
    assert config.trainer_image is None and not config.has_budget
    assert config.names.stack == "vision-acme-ml"
    assert config.names.bucket == "acme-ml-vision-sweeps"
    assert config.names.service_account_id == "vision-trainer"
    assert config.names.repository == "us-central1-docker.pkg.dev/acme-ml/vision-sweeps"


def test_longest_names_fit_google_limits():
    config = StackConfig.from_keys({**BASE, "gcp:project": "a" * 30, "sweeps:team": "t" * 22})
    assert len(config.names.bucket) <= 63 and len(config.names.service_account_id) <= 30
    assert len(f"sweeps {config.names.stack}") <= 60  # budget display name


@pytest.mark.parametrize("key, value, says", [
    ("gcp:project", "Acme", "'Acme' is not a GCP project id"),
    ("gcp:project", "acme", "'acme' is not a GCP project id"),
    ("gcp:project", "acme-", "'acme-' is not a GCP project id"),
    ("gcp:region", "us-central", "'us-central' is not a Vertex AI training region"),
    ("sweeps:team", "9lives", "'9lives' is not a team name"),
    ("sweeps:team", "t" * 23, "is not a team name"),
    ("sweeps:team", "vision\n", "'vision\\n' is not a team name"),  # `$` would match before a final newline
    ("gcp:project", "acme-ml\n", "is not a GCP project id"),
    ("sweeps:launchers", ["ann@example.com"], "'ann@example.com' is not a launcher member"),
    ("sweeps:launchers", ["allUsers"], "'allUsers' is not a launcher member"),
    ("sweeps:launchers", ["user:ann@example.com"] * 2, "listed more than once: user:ann@example.com"),
    ("sweeps:trainerImage", "us-docker.pkg.dev/p/r/trainer:latest", "is not an image reference by digest"),
    ("sweeps:trainerImage", "us-docker.pkg.dev/p/r/trainer@sha256:abc", "is not an image reference by digest"),
    ("sweeps:softDeleteDays", 3, "softDeleteDays 3: use 0 (off) or 7-90 days"),
    ("sweeps:softDeleteDays", 91, "sweeps:softDeleteDays: Input should be less than or equal to 90 (got 91)"),
    ("sweeps:stagingRetentionDays", 0, "sweeps:stagingRetentionDays: Input should be greater than or equal to 1"),
    ("sweeps:budgetAmount", 100, "budgetAmount and billingAccount go together"),
    ("sweeps:billingAccount", "0123-45", "'0123-45' is not a billing account id"),
    ("sweeps:budgetThresholds", [0.5, 0], "sweeps:budgetThresholds[1]: Input should be greater than 0"),
    ("sweeps:teem", "vision",
     "sweeps:teem: unknown key (known: gcp:project, gcp:region, sweeps:team, sweeps:launchers"),
    ("sweeps:ci", "acme/vision", "sweeps:ci: must be a mapping of keys (got 'acme/vision')"),
    ("sweeps:ci", {"branch": "main"}, "sweeps:ci.repository: missing: this key is required"),
    ("sweeps:ci", {"repository": "acme"}, "sweeps:ci.repository: 'acme' is not a GitHub repository (OWNER/NAME"),
    ("sweeps:ci", {"repository": "-acme/vision"}, "is not a GitHub repository"),
    ("sweeps:ci", {"repository": "acme/vision", "branch": "main' || true || '"},
     "sweeps:ci.branch: \"main' || true || '\" is not a branch name"),  # nothing but a name reaches the condition
    ("sweeps:ci", {"repository": "acme/vision", "branch": "a..b"}, "'a..b' is not a branch name"),
    ("sweeps:ci", {"repository": "acme/vision", "repositoryId": "R_123"}, "sweeps:ci.repositoryId: 'R_123' is not a"),
    ("sweeps:ci", {"repository": "acme/vision", "provider": "gitlab"}, "sweeps:ci.provider: Input should be 'github'"),
    ("sweeps:ci", {"repository": "acme/vision", "brnch": "main"},
     "sweeps:ci.brnch: unknown key (known: sweeps:ci.provider, sweeps:ci.repository, sweeps:ci.repositoryId, "
     "sweeps:ci.branch)"),
])
def test_bad_values_are_named(key, value, says):
    with pytest.raises(ConfigError) as raised:
        StackConfig.from_keys({**BASE, key: value})
    assert says in str(raised.value)


def test_ci_names_fit_google_limits_and_avoid_its_prefix():
    config = StackConfig.from_keys({**BASE, "sweeps:team": "gcp-" + "t" * 18,
                                    "sweeps:ci": {"repository": "acme/vision", "branch": "main"}})
    assert config.ci.repository == "acme/vision" and config.ci.provider == "github"
    pool, account = config.names.ci_pool_id, config.names.ci_account_id
    assert 4 <= len(pool) <= 32 and not pool.startswith("gcp-")  # Google reserves gcp- for pool ids
    assert 6 <= len(account) <= 30
    assert len(StackConfig.from_keys({**BASE, "sweeps:team": "a"}).names.ci_account_id) >= 6


def test_keys_round_trip_only_what_was_set():
    keys = {**BASE, "sweeps:launchers": ["group:vision@example.com"], "sweeps:budgetAmount": 50,
            "sweeps:billingAccount": "012345-6789AB-CDEF01", "sweeps:projectNumber": "123456789012",
            "sweeps:versioning": True, "sweeps:ci": {"repository": "acme/vision", "repositoryId": "260064828"}}
    assert StackConfig.from_keys(keys).to_keys() == keys
