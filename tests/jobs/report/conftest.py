"""The report tests' fixtures: the figures a report draws, and one written report."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from jobs.report import plots as plot_module
from jobs.report.write import write_sweep_report
from tests.support.report_fixtures import (
    synth_sweep,
)


@pytest.fixture
def drawn(monkeypatch):
    """Records the matplotlib figure behind each plot sweep_plots returns: a list of (draw function, figure)
    in drawing order, for the plots that drew something."""
    figures = []
    render = plot_module._render

    def keeping(draw, *args):
        def draw_and_keep(*inner):
            result = draw(*inner)
            if result is not None:
                figures.append((draw.__name__, result[0]))
            return result
        return render(draw_and_keep, *args)

    monkeypatch.setattr(plot_module, "_render", keeping)
    return figures


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The report of a 60-trial synthetic sweep (every kind of plot), written to a folder."""
    root = tmp_path_factory.mktemp("report")
    console = Console(file=io.StringIO(), width=200)
    files = write_sweep_report(synth_sweep(root, 60), str(root / "out"), console)
    return root / "out", files, console.file.getvalue()
