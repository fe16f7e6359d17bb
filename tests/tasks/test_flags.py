"""Flag plumbing (tasks/flags.py): numbers and required flags checked in one line, exit status 2; the library's
errors turned into one line with their exit status."""

from __future__ import annotations

import pytest
from invoke import Exit

from infra.config import ConfigError
from jobs.errors import ServiceError, UserError
from tasks.flags import exit_with, guarded, integer, positive, required
from tests.support.helpers import invoke


def _refused(call) -> tuple[int, str]:
    with pytest.raises(Exit) as caught:
        call()
    return caught.value.code, str(caught.value.message)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "ten", "1e999"])
def test_positive_refuses_what_is_not_a_positive_finite_number(value):
    assert _refused(lambda: positive(value, "--trial-timeout", "of seconds")) == (
        2, f"tune: --trial-timeout must be a positive number of seconds, got {value!r}")


def test_positive_and_integer_pass_values_and_absence():
    assert positive("2.5", "--max-cost", "(money)") == 2.5 and positive(None, "--max-cost", "(money)") is None
    assert integer("7", "--trials", 1) == 7 and integer(7, "--trials", 1) == 7 and integer("", "--trials", 1) is None


@pytest.mark.parametrize("value", ["x", "1.5", "0", -3])
def test_integer_refuses_text_fractions_and_values_below_the_minimum(value):
    assert _refused(lambda: integer(value, "--parallel", 1, "data")) == (
        2, f"data: --parallel must be an integer >= 1, got {value!r}")


def test_required_names_every_missing_flag_and_where_to_read_them():
    required("infra.up", stack="a-b")  # given: nothing to say
    assert _refused(lambda: required("infra.onboard", project=None, team="", region="r")) == (
        2, "infra.onboard: --project, --team required; `invoke --help infra.onboard` lists every flag")


def test_guarded_turns_the_library_errors_into_one_line_and_their_exit_status():
    def fail(error):
        raise error

    assert guarded("tune", lambda: 3) == 3
    assert _refused(lambda: guarded("tune", lambda: fail(UserError("spec.yaml: bad")))) == (2, "tune: spec.yaml: bad")
    assert _refused(lambda: guarded("status", lambda: fail(ServiceError("quota")))) == (1, "status: quota")
    assert _refused(lambda: guarded("infra.up", lambda: fail(ConfigError("config.json: bad")))) == (
        2, "infra.up: config.json: bad")  # infra's own, which imports nothing of jobs
    with pytest.raises(KeyError):  # a bug stays a traceback
        guarded("tune", lambda: fail(KeyError("x")))


def test_exit_with_passes_the_status_on():
    exit_with(0)
    assert _refused(lambda: exit_with(3))[0] == 3


def test_an_integer_flag_given_text_is_one_line_not_a_traceback(tmp_path):
    done = invoke("tune", "--trials", "ten", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, "tune: --trials must be an integer >= 1, got 'ten'\n")
    assert list(tmp_path.iterdir()) == []
