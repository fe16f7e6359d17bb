"""Flag plumbing shared by the tasks: integer flags, no short flags, required flags, numbers checked in one line,
and the boundary that turns the library's errors into one line and an exit status."""

from __future__ import annotations

import errno
import functools
import subprocess
import sys
from collections.abc import Callable
from typing import TypeVar

import invoke
from invoke import Exit
from invoke.parser import Argument

from tasks import ROOT

INTEGER_FLAGS = {"trials", "parallel", "seed", "budget"}
WRITE_REFUSED = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}  # the disk or folder says no
PATH_REFUSED = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP}  # the path itself cannot be used

T = TypeVar("T")


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


def help_if_asked(name: str, value: str) -> None:
    """Invoke hands a `-h` or `--help` after a task to the task's positional argument: show the task's help
    instead of running it."""
    if value in ("-h", "--help"):
        done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", ROOT, "--help", name])
        raise Exit(code=done.returncode)


def required(name: str, **values) -> None:
    """Stop with one line naming the flags among ``values`` that were not given."""
    missing = [f"--{flag.replace('_', '-')}" for flag, value in values.items() if value in (None, "")]
    if missing:
        raise Exit(f"{name}: {', '.join(missing)} required; `invoke --help {name}` lists every flag", code=2)


def positive(value, flag: str, unit: str, task_name: str = "tune") -> float | None:
    """A positive number (``unit`` says of what, for the error), or None when the flag was not given."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 < number < float("inf"):
        raise Exit(f"{task_name}: {flag} must be a positive number {unit}, got {value!r}", code=2)
    return number


def integer(value, flag: str, minimum: int, task_name: str = "tune") -> int | None:
    """An integer of at least ``minimum``, or None when the flag was not given."""
    if value in (None, ""):
        return None
    if (isinstance(value, str) and not value.strip().lstrip("-").isdigit()) or int(value) < minimum:
        raise Exit(f"{task_name}: {flag} must be an integer >= {minimum}, got {value!r}", code=2)
    return int(value)


def given(**flags: object) -> dict[str, object]:
    """The flags among ``flags`` that were given: those neither None nor False."""
    return {name: value for name, value in flags.items() if value is not None and value is not False}


def exit_with(status: int) -> None:
    """End the task with the library's exit status (nothing to do for 0)."""
    if status:
        raise Exit(code=status)


def guarded(name: str, call: Callable[[], T]) -> T:
    """Run a command; an error the user can fix is one line and exit status 2, a cloud service's 1 (missing
    or expired Google Cloud credentials included)."""
    from infra.config import ConfigError
    from jobs.errors import ServiceError, UserError, auth_problem

    try:
        from google.auth.exceptions import GoogleAuthError
    except ModuleNotFoundError:  # installed without the vertex extra: no Google client to raise it
        GoogleAuthError = ()  # catches nothing

    try:
        return call()
    except (UserError, ConfigError) as exc:
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
