"""The console a task prints to, and the few ways text is put on it."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def user_console(stderr: bool = False) -> Console:
    """The console a task prints to: it wraps at the terminal's width on a terminal, and lines are not broken
    when the output goes to a file or a pipe (tables there are up to 200 columns wide). Strings print as they
    are (no console markup: a spec's or a trainer's ``[/x]`` is text); styles come from ``styled``."""
    console = Console(stderr=stderr, soft_wrap=True, markup=False)
    return console if console.is_terminal else Console(stderr=stderr, soft_wrap=True, markup=False, width=200)


def styled(style: str, lead: str, rest: str = "") -> Text:
    """``lead`` in ``style``, then ``rest``: both printed as they are, never read as markup."""
    return Text.assemble((lead, style), rest)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def params_text(assignment: dict[str, object]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in assignment.items())
