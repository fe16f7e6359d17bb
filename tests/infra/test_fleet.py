"""Many stacks at once: the fleet view (infra.fleet), preview and up over every stack or a team's, and drift, with
three stacks of two teams and the recording fake pulumi CLI (tests/support/fake_pulumi/pulumi) first on PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra import fleet
from jobs.errors import UserError
from jobs.run.folder import RunFolder
from jobs.vertex.backend import VertexRun
from tests.support.fleet import STACKS, calls, fake_pulumi, history, operations, write_stacks
from tests.support.helpers import invoke

MANDATORY = {"policyName": "no-public-members", "enforcementLevel": "mandatory",
             "message": "roles/storage.objectViewer is granted to allUsers"}
ADVISORY = {"policyName": "labels-present", "enforcementLevel": "advisory", "message": "the bucket has no labels"}
CANNED = {
    "nlp-words-ml": {"history": history(("update", "2026-01-20T09:00:00.000Z", "failed")),
                     "preview": {"changes": {"update": 1, "same": 11}, "policy": [MANDATORY, ADVISORY]}},
    "vision-acme-lab": {"state": False, "preview": {"changes": {"create": 14}}},
    "vision-acme-ml": {"history": history(("preview", "2026-02-02T08:00:00.000Z", "succeeded"),
                                          ("update", "2026-02-01T07:30:00.000Z", "succeeded"),
                                          ("update", "2026-01-05T07:30:00.000Z", "failed")),
                       "preview": {"changes": {"create": 1, "same": 12}, "policy": [ADVISORY]},
                       "drift": {"changes": {"update": 2, "same": 10}}},
}


@pytest.fixture
def stacks_dir(tmp_path) -> Path:
    write_stacks(tmp_path / "stacks")
    return tmp_path / "stacks"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake pulumi first on PATH in this process, answering CANNED; returns its home."""
    home = tmp_path / "fake"
    for name, value in fake_pulumi(home, CANNED).items():
        monkeypatch.setenv(name, value)
    return home


@pytest.fixture
def fleet_checkout(checkout) -> Path:
    """A copy of the repository with the three stacks beside the example and the policy pack's environment in
    place (what `make install` leaves)."""
    write_stacks(checkout / "infra" / "stacks")
    env = checkout / "infra" / "policypack" / "venv" / "bin"
    env.mkdir(parents=True)
    (env / "python").touch()
    return checkout


def _tasks(checkout: Path, *args: str, canned: dict = CANNED, path: str | None = None):
    """`invoke ARGS` in the checkout's folder with the fake pulumi, and no Google Cloud credentials."""
    home = checkout.parent / "fake"
    env = {**fake_pulumi(home, canned, path), "GOOGLE_APPLICATION_CREDENTIALS": str(home / "no-such-key.json")}
    return invoke(*args, root=checkout, cwd=checkout.parent, env=env), home


# --- the stack files ---------------------------------------------------------------------------------------------

def test_every_stack_file_is_read_with_its_problem_and_the_examples_are_left_out(stacks_dir):
    (stacks_dir / "Pulumi.example.yaml").write_text("config: {}\n")
    (stacks_dir / "Pulumi.example-two.yaml").write_text("config: {}\n")
    (stacks_dir / "Pulumi.broken-a.yaml").write_text("config: [oops\n")
    (stacks_dir / "Pulumi.broken-b.yaml").write_text("config:\n  gcp:project: acme-ml\n  gcp:region: mars-1\n"
                                                     "  sweeps:team: vision\n")
    stacks = fleet.read_stacks(stacks_dir)
    assert [s.name for s in stacks] == ["broken-a", "broken-b", *STACKS]
    assert [(s.team, s.project, s.region) for s in stacks[2:]] == list(STACKS.values())
    assert all(s.routes == ("image", "package") and not s.problem for s in stacks[2:])
    a, b = stacks[:2]
    assert a.problem.startswith(f"{a.path}: not valid YAML") and "\n" not in a.problem
    assert b.problem.startswith(f"{b.path}: gcp:region: 'mars-1' is not a Vertex AI training region")
    assert (b.team, b.project, b.routes) == ("vision", "acme-ml", ())  # as written, for the view


def test_hostile_stack_files_are_problems_and_the_rest_is_read(stacks_dir):
    """A device, a FIFO (no writer: it is not waited for), a file over the size limit, a key that is not a name and
    a file named with no stack are each a problem line or left out; the three stacks are still read."""
    (stacks_dir / "Pulumi.evil-zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(stacks_dir / "Pulumi.evil-fifo.yaml")
    (stacks_dir / "Pulumi.evil-big.yaml").write_text("a" * 1_000_001)
    (stacks_dir / "Pulumi.evil-key.yaml").write_text("config:\n  5: x\n")
    (stacks_dir / "Pulumi..yaml").write_text("config: {}\n")
    stacks = {s.name: s.problem for s in fleet.read_stacks(stacks_dir)}
    assert list(stacks) == ["evil-big", "evil-fifo", "evil-key", "evil-zero", *STACKS]
    assert stacks["evil-zero"].endswith("evil-zero.yaml: not a regular file: fix the file, or remove it")
    assert "evil-fifo.yaml: not a regular file" in stacks["evil-fifo"]
    assert "more than 1,000,000 bytes, the most such a file may hold" in stacks["evil-big"]
    assert "config key 5 is not a name" in stacks["evil-key"]
    assert not any(stacks[name] for name in STACKS)


def test_a_missing_or_empty_stacks_folder_and_an_unknown_team_are_one_line(tmp_path, stacks_dir):
    with pytest.raises(UserError, match=f"^no stacks folder {tmp_path / 'none'}: onboard a project first"):
        fleet.read_stacks(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="^no stack files in .*: onboard a project with invoke infra.onboard$"):
        fleet.read_stacks(tmp_path / "empty")
    stacks = fleet.read_stacks(stacks_dir)
    assert [s.name for s in fleet.pick(stacks, "vision")] == ["vision-acme-lab", "vision-acme-ml"]
    with pytest.raises(UserError, match="^--team ocr: no stack file names it; teams: nlp, vision$"):
        fleet.pick(stacks, "ocr")


# --- operations over many stacks ---------------------------------------------------------------------------------

def test_a_preview_of_all_stops_at_the_first_mandatory_violation_unless_told_to_keep_going(stacks_dir, fake):
    stacks = fleet.read_stacks(stacks_dir)
    results = fleet.run_stacks("preview", stacks, say=lambda line: None)
    assert [(r.stack, r.result) for r in results] == [
        ("nlp-words-ml", "policy"), ("vision-acme-lab", "skipped"), ("vision-acme-ml", "skipped")]
    assert operations(fake) == [("preview", "nlp-words-ml")]
    select, preview = calls(fake)
    assert select[:4] == ["stack", "select", "--create", "--stack"]
    assert preview[preview.index("--policy-pack") + 1] == str(fleet.STACKS.parent / "policypack")
    assert results[0].cells()[3:] == [
        "1 update", "mandatory: no-public-members; advisory: labels-present",
        "no-public-members: roles/storage.objectViewer is granted to allUsers (pulumi exited 5: a policy blocked it)"]
    lines, status = fleet.conclusion("preview", results)
    assert status == 1 and lines == ["stopped at nlp-words-ml (policy); not run: vision-acme-lab, vision-acme-ml: fix "
                                     "it and run again, or add --keep-going to go past a failing stack"]

    results = fleet.run_stacks("preview", stacks, keep_going=True, say=lambda line: None)
    assert [(r.stack, r.result, r.cells()[3]) for r in results] == [
        ("nlp-words-ml", "policy", "1 update"), ("vision-acme-lab", "ok", "14 create"),
        ("vision-acme-ml", "ok", "1 create")]  # an advisory violation stops nothing
    assert results[2].cells()[4] == "advisory: labels-present"
    assert fleet.conclusion("preview", results) == (["1 of 3 stacks failed: nlp-words-ml"], 1)


def test_an_update_that_fails_stops_the_rest_and_says_the_engine_s_error(stacks_dir, fake):
    canned = {**CANNED, "vision-acme-lab": {"up": {"error": "googleapi: Error 403: billing is disabled"}}}
    (fake / "stacks.json").write_text(json.dumps(canned))
    said = []
    results = fleet.run_stacks("up", fleet.read_stacks(stacks_dir), say=said.append, yes=True)
    assert said == ["== nlp-words-ml (1/3): up", "== vision-acme-lab (2/3): up"]
    assert [(r.stack, r.result) for r in results] == [
        ("nlp-words-ml", "ok"), ("vision-acme-lab", "failed"), ("vision-acme-ml", "skipped")]
    assert results[1].error == ("googleapi: Error 403: billing is disabled (pulumi exited 4: resource or deployment "
                                "error)")
    assert all("--yes" in argv for argv in calls(fake) if argv[0] == "up")


def test_a_stack_file_failing_its_checks_is_not_run_and_counts_as_failed(stacks_dir, fake):
    (stacks_dir / "Pulumi.broken-a.yaml").write_text("config: [oops\n")
    results = fleet.run_stacks("preview", fleet.read_stacks(stacks_dir), keep_going=True, say=lambda line: None)
    assert results[0].result == "failed" and results[0].error.startswith(f"{stacks_dir / 'Pulumi.broken-a.yaml'}: ")
    assert [stack for _, stack in operations(fake)] == list(STACKS)


def test_drift_checks_every_stack_and_names_those_that_drifted(stacks_dir, fake):
    results = fleet.run_stacks("drift", fleet.read_stacks(stacks_dir), say=lambda line: None)
    assert [(r.stack, r.result, r.cells()[3]) for r in results] == [
        ("nlp-words-ml", "in sync", "none"), ("vision-acme-lab", "failed", "-"),
        ("vision-acme-ml", "drifted", "2 update")]
    assert results[1].error == "pulumi exited 6: stack not found"  # never brought up: nothing to drift from
    assert all(argv[0] == "preview" and "--expect-no-changes" in argv and "--refresh" in argv
               and "--policy-pack" not in argv for argv in calls(fake))  # no select: a missing stack is not made
    lines, status = fleet.conclusion("drift", results)
    assert status == 1 and lines == [
        "1 of 3 stacks failed: vision-acme-lab",
        "drifted: vision-acme-ml: `invoke infra.up --stack vision-acme-ml` puts the resources back as the program "
        "says, or `pulumi refresh --stack vision-acme-ml` takes what changed into the state (then change the program "
        "to match)"]
    fleet.run_stacks("drift", fleet.read_stacks(stacks_dir)[:1], say=lambda line: None, refresh=False)
    assert "--refresh" not in calls(fake)[-1]


# --- the fleet view ----------------------------------------------------------------------------------------------

def test_the_last_update_comes_from_the_stack_history_and_a_stack_without_state_is_a_problem(stacks_dir, fake,
                                                                                             monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(fake / "no-such-key.json"))
    view = fleet.fleet_view(fleet.read_stacks(stacks_dir), fleet.dt.datetime.now().astimezone(),
                            stacks_dir / "no-runs")
    assert [row.last_up for row in view.rows] == ["2026-01-20 09:00 UTC failed", None,
                                                  "2026-02-01 07:30 UTC succeeded"]  # the newest update, not preview
    assert view.problems == ["stack vision-acme-lab: no state in the Pulumi backend: `invoke infra.up --stack "
                             "vision-acme-lab` creates it"]
    assert [note.split(":")[0] for note in view.notes] == ["Vertex AI jobs not listed (runs/ only)"]  # said once


def test_without_the_cli_or_a_login_the_last_update_is_said_once(stacks_dir, fake, monkeypatch):
    with_fake = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(stacks_dir))  # no pulumi there
    assert fleet.stack_states(list(STACKS)) == (
        {}, ["last up: no pulumi CLI on PATH (install it, then `pulumi login`)"])
    monkeypatch.setenv("PATH", with_fake)
    (fake / "stacks.json").write_text(json.dumps({"_login": False}))
    states, notes = fleet.stack_states(list(STACKS))
    assert states == {} and notes == [
        "last up: not read: pulumi stack ls failed (error: PULUMI_ACCESS_TOKEN must be set for login during "
        "non-interactive CLI sessions; not logged in or not authorized)"]


# --- as a user runs them -----------------------------------------------------------------------------------------

def test_invoke_fleet_lists_every_stack_as_a_table_and_as_json(fleet_checkout):
    stacks = fleet_checkout / "infra" / "stacks"
    (stacks / "Pulumi.broken-a.yaml").write_text("config: [oops\n")
    RunFolder.create(fleet_checkout / "jobs" / "specs" / "breast-cancer.yaml", VertexRun(
        run_id="bc-1", backend="vertex", spec="breast-cancer.yaml", data_root="gs://b/data", trials=4, parallel=2,
        project="acme-ml", region="europe-west4", team="vision", created=fleet.dt.datetime.now().isoformat(),
        job="projects/acme-ml/locations/europe-west4/hyperparameterTuningJobs/7", hourly_cost=0.5, currency="USD",
        trainer_service_account="vision-trainer@acme-ml.iam.gserviceaccount.com"), fleet_checkout.parent / "runs")
    done, _ = _tasks(fleet_checkout, "infra.fleet")
    assert done.returncode == 2, done  # a stack file that does not parse; the rest still listed
    table = done.stdout.split("problem:")[0]
    for stack, (team, project, region) in STACKS.items():
        assert [row for row in table.splitlines() if f" {stack} " in row and team in row and project in row
                and region in row], table
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
            for line in table.splitlines() if line.startswith("│")}
    assert rows["vision-acme-ml"][4:] == ["image, package", "ok", "2026-02-01 07:30 UTC succeeded", "1", "1 unpriced"]
    assert rows["vision-acme-lab"][6] == "no state" and rows["broken-a"][5] == "invalid"
    lines = done.stdout.split("┘\n")[1].splitlines()
    assert lines == [
        f"problem: {stacks / 'Pulumi.broken-a.yaml'}: not valid YAML (expected ',' or ']', but got '<stream end>' at "
        "line 2): fix the file, or remove it",
        "problem: stack vision-acme-lab: no state in the Pulumi backend: `invoke infra.up --stack vision-acme-lab` "
        "creates it",
        "Vertex AI jobs not listed (runs/ only): no Google Cloud credentials found: run `gcloud auth "
        "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"]

    done, _ = _tasks(fleet_checkout, "infra.fleet", "--json")
    view = json.loads(done.stdout)
    assert done.returncode == 2 and [s["stack"] for s in view["stacks"]] == ["broken-a", *STACKS]
    assert view["stacks"][3] | {"file": ""} == {
        "stack": "vision-acme-ml", "file": "", "team": "vision", "project": "acme-ml", "region": "europe-west4",
        "routes": ["image", "package"], "config_ok": True, "problem": None, "state": True,
        "last_up": "2026-02-01 07:30 UTC succeeded", "sweeps": 1, "trials": 0, "cost": 0.0, "unpriced_sweeps": 1,
        "currency": ""}
    assert view["stacks"][2]["state"] is False and len(view["problems"]) == 2 and len(view["notes"]) == 1


def test_invoke_preview_all_stops_at_the_mandatory_violation_and_keep_going_runs_every_stack(fleet_checkout):
    done, home = _tasks(fleet_checkout, "infra.preview", "--all")
    assert done.returncode == 1, done
    assert operations(home) == [("preview", "nlp-words-ml")]
    assert "│ nlp-words-ml    │ nlp    │ policy  │ 1 update │ mandatory: no-public-members; advisory: labels-present" \
           in done.stdout
    assert done.stdout.rstrip().endswith("stopped at nlp-words-ml (policy); not run: vision-acme-lab, vision-acme-ml: "
                                         "fix it and run again, or add --keep-going to go past a failing stack")
    done, home = _tasks(fleet_checkout, "infra.preview", "--all", "--keep-going")
    assert done.returncode == 1 and operations(home)[1:] == [("preview", s) for s in STACKS], done
    assert done.stdout.rstrip().endswith("1 of 3 stacks failed: nlp-words-ml")


def test_invoke_up_for_a_team_updates_its_stacks_in_turn(fleet_checkout):
    done, home = _tasks(fleet_checkout, "infra.up", "--team", "vision", "--yes")
    assert done.returncode == 0, done
    assert operations(home) == [("up", "vision-acme-lab"), ("up", "vision-acme-ml")]
    assert "== vision-acme-lab (1/2): up" in done.stdout and "│ vision-acme-ml  │ vision │ ok" in done.stdout


def test_invoke_drift_names_the_drifted_stacks_and_exits_1(fleet_checkout):
    canned = {**CANNED, "vision-acme-lab": {}}  # every stack has state
    done, home = _tasks(fleet_checkout, "infra.drift", "--all", canned=canned)
    assert done.returncode == 1, done
    assert [argv[0] for argv in calls(home)] == ["preview"] * 3
    assert done.stdout.rstrip().endswith("drifted: vision-acme-ml: `invoke infra.up --stack vision-acme-ml` puts "
                                         "the resources back as the program says, or `pulumi refresh --stack "
                                         "vision-acme-ml` takes what changed into the state (then change the "
                                         "program to match)")
    done, _ = _tasks(fleet_checkout, "infra.drift", "--stack", "nlp-words-ml", canned=canned)
    assert done.returncode == 0 and done.stdout.rstrip().endswith("no drift: all 1 stacks match their state and the "
                                                                  "program"), done


@pytest.mark.parametrize("args, said", [
    (("infra.preview", "--all", "--stack", "nlp-words-ml"),
     "infra.preview: --stack names one stack and --all/--team select many: give one of them"),
    (("infra.drift",), "infra.drift: --stack, --all or --team required; `invoke --help infra.drift` lists every flag"),
    (("infra.up", "--team", "ocr"), "infra.up: --team ocr: no stack file names it; teams: nlp, vision"),
    (("infra.fleet", "--since", "a week"),
     "infra.fleet: --since 'a week' is neither a number of days (30d) nor a date (2026-01-31): give one of them"),
])
def test_a_wrong_selection_is_one_line(fleet_checkout, args, said):
    done, home = _tasks(fleet_checkout, *args)
    assert (done.returncode, done.stderr) == (2, said + "\n") and calls(home) == [], done


def test_a_pack_config_lowering_a_mandatory_policy_is_a_problem_line_of_the_view(fleet_checkout):
    (fleet_checkout / "infra" / "policypack" / "config.json").write_text('{"all": "advisory"}')
    done, _ = _tasks(fleet_checkout, "infra.fleet")
    assert "problem: " in done.stdout and "'all' sets the level 'advisory', which would lower the mandatory" \
        in done.stdout, done
    assert all(f" {stack} " in done.stdout for stack in STACKS), done.stdout


def test_a_wrong_flag_is_one_line(fleet_checkout):
    for task in ("infra.fleet", "infra.drift", "infra.preview", "infra.up"):
        done, home = _tasks(fleet_checkout, task, "--all-stacks")
        assert (done.returncode, done.stdout, done.stderr) == (1, "", "No idea what '--all-stacks' is!\n"), done
        assert calls(home) == []


def test_an_update_of_all_without_the_pack_is_refused_unless_every_stack_file_allows_it(fleet_checkout):
    done, home = _tasks(fleet_checkout, "infra.up", "--all", "--no-policy", "--yes")
    stack_file = fleet_checkout / "infra" / "stacks" / "Pulumi.nlp-words-ml.yaml"
    assert done.returncode == 2 and calls(home) == [], done
    assert done.stderr.startswith("infra.up: --no-policy skips the mandatory policies ") and done.stderr.endswith(
        f", which {stack_file} does not allow: run without --no-policy, or have the platform team set "
        "sweeps:allowNoPolicy: true in that file\n"), done.stderr
    write_stacks(fleet_checkout / "infra" / "stacks", **{s: {"sweeps:allowNoPolicy": True} for s in STACKS})
    done, home = _tasks(fleet_checkout, "infra.up", "--all", "--no-policy", "--yes")
    assert done.returncode == 0 and done.stderr.count("WARNING: --no-policy skips") == 1, done
    assert [argv for argv in calls(home) if argv[0] == "up" and "--policy-pack" in argv] == []


def test_without_a_stacks_folder_each_fleet_task_is_one_line(fleet_checkout):
    stacks = fleet_checkout / "infra" / "stacks"
    for path in stacks.iterdir():
        path.unlink()
    stacks.rmdir()
    for args in (("infra.fleet",), ("infra.preview", "--all"), ("infra.drift", "--team", "nlp")):
        done, home = _tasks(fleet_checkout, *args)
        assert (done.returncode, done.stderr) == (
            2, f"{args[0]}: no stacks folder {stacks}: onboard a project first (invoke infra.onboard writes its "
               "stack file there)\n") and calls(home) == [], done
