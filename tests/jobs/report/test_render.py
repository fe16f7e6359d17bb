"""What the report shows: importances, which plots a sweep gets and the trials each one draws, the
winner and the tables of a self-contained HTML page and of report.md, and the page as headless Chromium
renders it. The expected values come from the synthetic trials themselves, not from the report's frame."""

from __future__ import annotations

import base64
import io
import math
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from rich.console import Console

from jobs.report import plots as plot_module
from jobs.report.collect import collect
from jobs.report.importance import param_importances
from jobs.report.plots import sweep_plots
from jobs.report.summary import summarize
from jobs.report.terminal import print_sweep
from jobs.report.text import number
from jobs.report.write import write_comparison_report, write_sweep_report
from jobs.spec import parse_spec
from tests.support.report_fixtures import (
    CHROMIUM,
    SPEC,
    Chromium,
    history_csv,
    synth_spec,
    synth_trials,
    under_artifacts_base,
    write_artifacts,
)

ALL_PLOTS = ["importance", "objective", "parameters", "parallel", "curves", "early_stopping"]


def synth_sweep(tmp_path, count: int, spec=None, keep=lambda t: True, run_id: str = "synth-1"):
    trials = [t for t in synth_trials(count, seed=5) if keep(t)]
    write_artifacts(str(tmp_path / "artifacts"), trials)
    records = under_artifacts_base([t.record for t in trials], str(tmp_path / "artifacts"))
    return collect(run_id, spec or synth_spec(), records)


def synth_records(count: int, keep=lambda t: True) -> list:
    """The records synth_sweep collects, straight from the fixture."""
    return [t.record for t in synth_trials(count, seed=5) if keep(t)]


def ranked(records) -> list:
    """Succeeded records, best (highest validation_accuracy) first."""
    return sorted((r for r in records if r.state == "SUCCEEDED"), key=lambda r: -r.objective)


def positions(records) -> dict[str, int]:
    """Trial id -> place in start order (1, 2, ...)."""
    return {r.trial_id: i for i, r in enumerate(sorted(records, key=lambda r: r.started), start=1)}


def points(collection, x=float) -> list[float]:
    """A scatter's (x, y) points, sorted and flattened: x1, y1, x2, y2, ... (``x`` applied to each x)."""
    offsets = np.asarray(collection.get_offsets(), dtype=float).tolist()
    return [v for xy in sorted((x(a), b) for a, b in offsets) for v in xy]


def expected(pairs):
    return pytest.approx([v for xy in sorted((float(x), float(y)) for x, y in pairs) for v in xy])


def by_label(ax) -> dict:
    return {c.get_label(): c for c in ax.collections}


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


def test_importance_names_the_parameter_that_matters():
    never = {"type": "discrete", "values": [32, 64], "when": {"optimizer": ["adam"]}}
    spec = parse_spec({**SPEC, "parameters": {**SPEC["parameters"], "batch": never}}, "never.yaml")
    succeeded = [t.record for t in synth_trials(120, seed=6) if t.record.state == "SUCCEEDED"]
    frame = pd.DataFrame([{"objective": r.objective, **r.parameters, "batch": None} for r in succeeded])
    importances, note = param_importances(spec, frame)
    assert next(iter(importances)) == "learning_rate" and importances["learning_rate"] > 0.5
    assert sum(importances.values()) == pytest.approx(1.0)
    assert set(importances) == set(SPEC["parameters"])  # momentum too, rated over the trials that have it
    assert note == (f"Optuna PED-ANOVA over {len(succeeded)} succeeded trials; "
                    "not rated (no succeeded trial set it): batch")
    assert param_importances(spec, frame.head(1)) == ({}, "needs at least 2 succeeded trials (have 1)")
    by_width = frame.assign(objective=frame["hidden"].map({16: 0.6, 32: 0.7, 64: 0.9, 128: 0.8}))
    assert next(iter(param_importances(spec, by_width)[0])) == "hidden"  # a discrete parameter, by its index


def test_a_sweep_gets_the_plots_it_has_data_for(tmp_path):
    assert [p.name for p in sweep_plots(synth_sweep(tmp_path / "a", 30), {"learning_rate": 1.0})] == ALL_PLOTS
    no_stopping = synth_spec().model_copy(update={"early_stopping": "none"})
    plain = synth_sweep(tmp_path / "b", 30, no_stopping, keep=lambda t: t.record.state != "STOPPED")
    assert [p.name for p in sweep_plots(plain, {})] == ["objective", "parameters", "parallel", "curves"]
    one = synth_sweep(tmp_path / "c", 30, keep=lambda t: t.record.state != "SUCCEEDED" or t.record.trial_id == "1")
    assert [p.name for p in sweep_plots(one, {})] == ["objective", "parameters", "curves", "early_stopping"]


def test_each_plot_draws_the_trials_it_names(tmp_path, drawn):
    records = synth_records(60)
    sweep = synth_sweep(tmp_path, 60)
    importances = summarize(sweep).importances
    plots = sweep_plots(sweep, importances)
    assert [p.name for p in plots] == ALL_PLOTS
    figures = dict(zip(ALL_PLOTS, (figure for _, figure in drawn)))
    assert [name for name, _ in drawn] == ["_importance", "_objective_by_trial", "_parameters", "_parallel",
                                           "_curves", "_early_stopping"]
    captions = {p.name: p.caption for p in plots}
    best, place = ranked(records)[0], positions(records)
    succeeded = [r for r in records if r.state == "SUCCEEDED"]

    # importance: one bar per parameter, its share, the largest on top and red
    (ax,) = figures["importance"].axes
    assert [label.get_text() for label in ax.get_yticklabels()] == list(importances)[::-1]
    assert [bar.get_width() for bar in ax.patches] == pytest.approx(list(importances.values())[::-1])
    assert ax.patches[-1].get_facecolor() == pytest.approx(to_rgba(plot_module.BEST))
    assert next(iter(importances)) == "learning_rate"

    # objective by trial: each succeeded trial at its place in start order, the best-so-far line, the star
    # on the best trial, stopped and failed trials as marks along the bottom
    (ax,) = figures["objective"].axes
    marks = by_label(ax)
    assert points(marks["succeeded trial"]) == expected((place[r.trial_id], r.objective) for r in succeeded)
    assert points(marks[f"best: trial {best.trial_id} ({best.objective:.4g})"]) == expected(
        [(place[best.trial_id], best.objective)])
    for state, label in (("STOPPED", "stopped early"), ("FAILED", "failed")):
        assert points(marks[label])[::2] == sorted(
            place[r.trial_id] for r in records if r.state == state)
    (line,) = [line for line in ax.lines if line.get_label() == "best so far"]
    assert list(line.get_xdata()) == list(range(1, 61))
    assert np.allclose(line.get_ydata(), best_so_far(records), equal_nan=True)
    assert captions["objective"].startswith(f"the best value was first reached at trial {place[best.trial_id]} "
                                            "of 60 in start order")

    # each parameter against the objective: one panel per parameter, most important first; every succeeded
    # trial that has the parameter, the star at the best trial's value
    order = list(importances)
    panels = [ax for ax in figures["parameters"].axes if ax.get_visible()]
    assert [ax.get_xlabel().split(" ")[0] for ax in panels] == order
    for ax, pid in zip(panels, order):
        have = [r for r in succeeded if pid in r.parameters]
        if pid == "optimizer":  # a box plot: the dots are jittered around each category's index
            assert points(ax.collections[0], x=round) == expected(
                (["adam", "sgd"].index(r.parameters[pid]), r.objective) for r in have), pid
            star = (["adam", "sgd"].index(best.parameters[pid]), best.objective)
        else:
            assert points(ax.collections[0]) == expected((r.parameters[pid], r.objective) for r in have), pid
            star = (best.parameters[pid], best.objective)
        assert points(ax.collections[-1]) == expected([star]), pid
    assert panels[order.index("learning_rate")].get_xscale() == "log"

    # parallel coordinates: one line per succeeded trial; the best trial's line, on top, at its own values
    ax = figures["parallel"].axes[0]
    trial_lines = [line for line in ax.lines if len(line.get_xdata()) == len(order) + 1]
    assert len(trial_lines) == len(succeeded)
    (top,) = [line for line in trial_lines if line.get_label() == f"best: trial {best.trial_id}"]
    assert top is trial_lines[-1]
    where = {"learning_rate": (math.log10(best.parameters["learning_rate"]) + 4) / 3,
             "layers": (best.parameters["layers"] - 1) / 3,
             "hidden": [16, 32, 64, 128].index(best.parameters["hidden"]) / 3,
             "optimizer": ["adam", "sgd"].index(best.parameters["optimizer"]),
             "momentum": (math.log10(best.parameters["momentum"]) - math.log10(0.5))
             / (math.log10(0.99) - math.log10(0.5))}
    assert list(top.get_ydata()) == pytest.approx([where[pid] for pid in order] + [1.0])  # the best objective: top
    assert [label.get_text() for label in ax.get_xticklabels()] == [*order, "validation_accuracy"]

    # learning curves: the top 5 trials' eval_history.csv, the best one thick
    loss_ax, accuracy_ax = figures["curves"].axes
    top5 = ranked(records)[:5]
    for ax, column in ((loss_ax, "val_loss"), (accuracy_ax, "val_accuracy")):
        assert [line.get_label() for line in ax.lines] == [f"trial {r.trial_id} ({r.objective:.4g})" for r in top5]
        for line, r in zip(ax.lines, top5):
            history = pd.read_csv(io.StringIO(history_csv(r.step, int(r.trial_id))))
            assert list(line.get_xdata()) == history["epoch"].tolist()
            assert list(line.get_ydata()) == pytest.approx(history[column].tolist())
        assert [line.get_linewidth() for line in ax.lines] == [2.6, 1.3, 1.3, 1.3, 1.3]

    # early stopping: the last step of every trial that reported, stopped ones apart
    (ax,) = figures["early_stopping"].axes
    marks = by_label(ax)
    stopped = [r for r in records if r.state == "STOPPED"]
    assert points(marks["stopped early"]) == expected((place[r.trial_id], r.step) for r in stopped)
    assert points(marks["ran to the end"]) == expected((place[r.trial_id], r.step) for r in succeeded)
    in_order = sorted(stopped, key=lambda r: r.started)
    assert captions["early_stopping"] == (
        f"{len(stopped)} of {len(stopped) + len(succeeded)} trials stopped early (median), median at step 6: "
        + ", ".join(f"trial {r.trial_id} at step 6" for r in in_order))


def test_a_sweep_without_success_still_reports(tmp_path):
    failed = synth_sweep(tmp_path, 12, keep=lambda t: t.record.state == "FAILED")
    console = Console(file=io.StringIO(), width=200)
    files = write_sweep_report(failed, str(tmp_path / "out"), console)
    assert set(files) == {"trials.csv", "report.md", "report.html"}
    assert "no trial succeeded" in files["report.html"].decode() and "no trial succeeded" in console.file.getvalue()


def test_the_title_says_when_a_run_cost_more_than_its_ceiling(tmp_path):
    trials = synth_trials(4, seed=5)
    write_artifacts(str(tmp_path / "artifacts"), trials)
    records = under_artifacts_base([t.record for t in trials], str(tmp_path / "artifacts"))

    def title(**cost) -> str:
        return summarize(collect("synth-1", synth_spec(), records, hourly_cost=3600.0, currency="USD", **cost)).title

    spent = collect("synth-1", synth_spec(), records, hourly_cost=3600.0, currency="USD").cost  # 1 USD a second
    assert title(max_cost=spent / 2) == f"synth · run synth-1 — cost {number(spent)} USD, past the " \
                                        f"{number(spent / 2)} USD ceiling"
    assert title(max_cost=spent) == title(max_cost=spent * 2) == title() == "synth · run synth-1"


PARAMETERS = list(SPEC["parameters"])
RANGES = {"learning_rate": "0.0001 … 0.1 (log)", "layers": "1 … 4", "hidden": "16 · 32 · 64 · 128",
          "optimizer": "adam · sgd", "momentum": "0.5 … 0.99 (reverse_log)"}


def shown(value) -> str:
    """A value as the report writes it: 4 significant digits, whole numbers as integers, a dash for none."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def top_rows(records) -> list[list[str]]:
    """The top-trials table as the reader should see it: rank, trial, objective, parameters, duration."""
    return [[str(rank), r.trial_id, shown(r.objective), *(shown(r.parameters.get(p)) for p in PARAMETERS),
             f"{r.duration_s:.1f} s"] for rank, r in enumerate(ranked(records)[:10], start=1)]


def html_table(html: str, section: str) -> tuple[list[str], list[tuple[bool, list[str]]]]:
    """The header and the (highlighted, cells) rows of the table in ``<section id=section>``."""
    body = re.search(rf'<section class="card" id="{section}">(.*?)</section>', html, re.S)[1]
    header = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
    rows = [(highlight == ' class="best"', [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)])
            for highlight, row in re.findall(r"<tr( class=\"best\")?>(.*?)</tr>", body)]
    return header, [row for row in rows if row[1]]


def markdown_table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (header first) of the table under ``## heading``."""
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_the_page_is_self_contained_and_leads_with_the_winner(written):
    out, files, printed = written
    html = files["report.html"].decode()
    assert not re.search(r"<(script|link|iframe)\b", html) and not re.search(r"(src|href)=\"(?!data:)", html)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(i) for i in images] == [(out / "plots" / f"{n}.png").read_bytes() for n in ALL_PLOTS]
    best = ranked(synth_records(60))[0]
    assert f"best trial: {best.trial_id}  validation_accuracy = {best.objective:.6g}" in printed
    winner = html.index('class="card winner"')
    marks = ['alt="Which parameters mattered"', 'id="objective"', 'id="all"']
    order = [winner, *(html.index(m) for m in marks)]
    assert order == sorted(order)
    assert (out / "trials.csv").read_bytes() == files["trials.csv"] and (out / "report.md").exists()


def test_the_page_shows_the_best_trial_and_every_trial(written):
    """The winner card, the top-10 table and the all-trials table hold the synthetic trials' own values."""
    out, files, _ = written
    html = files["report.html"].decode()
    records = synth_records(60)
    best, *others = ranked(records)

    card = html[html.index('<div class="card winner">'):html.index("which parameters mattered")]
    assert '<div class="label">best trial · maximize validation_accuracy</div>' in card
    assert re.search(r'<div class="value">(.*?)<small>(.*?)</small>', card).groups() == (
        shown(best.objective), f"trial {best.trial_id} · {best.duration_s:.1f} s")
    assert [list(map(unescape, row)) for row in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                                                            card)] == [
        [pid, shown(best.parameters[pid]), RANGES[pid]] for pid in PARAMETERS if pid in best.parameters]
    assert "next best: " + ", ".join(f"trial {r.trial_id}: {shown(r.objective)}" for r in others[:3]) in card
    assert f"artifacts: {out.parent / 'artifacts' / best.trial_id}</p>" in card

    header, rows = html_table(html, "top")
    assert header == ["#", "trial", "validation_accuracy", *PARAMETERS, "duration"]
    assert [cells for _, cells in rows] == top_rows(records)
    assert [highlighted for highlighted, _ in rows] == [True] + [False] * 9

    header, rows = html_table(html, "all")
    assert header[:3 + len(PARAMETERS)] == ["trial_id", "state", "objective", *PARAMETERS]
    assert header[-3:] == ["duration_s", "artifact_dir", "error"]
    by_id = {r.trial_id: r for r in records}
    assert [cells[0] for _, cells in rows] == [str(i) for i in range(1, 61)]
    for highlighted, cells in rows:
        r = by_id[cells[0]]
        assert cells[1:3 + len(PARAMETERS)] == [r.state.lower(), shown(r.objective),
                                                *(shown(r.parameters.get(p)) for p in PARAMETERS)], r.trial_id
        assert cells[-1] == "; ".join(filter(None, [r.reason, "" if r.state == "SUCCEEDED" else
                                                    "metrics.json missing"])), r.trial_id
        assert highlighted == (r is best)
    assert re.search(r'<section class="card" id="failures"><h2>Why trials failed \((\d+)\)', html)[1] == str(
        sum(r.state != "SUCCEEDED" for r in records))


def test_report_md_shows_the_best_trial_the_plots_and_every_trial(written):
    _, files, _ = written
    markdown = files["report.md"].decode()
    records = synth_records(60)
    best = ranked(records)[0]
    heading = f"Best trial: {best.trial_id}, validation_accuracy = {best.objective:.6g}"
    assert markdown_table(markdown, heading) == [["parameter", "value", "range"], *(
        [pid, shown(best.parameters[pid]), RANGES[pid]] for pid in PARAMETERS if pid in best.parameters)]
    for name in ALL_PLOTS:
        assert re.search(rf"^!\[[^\]]+\]\(plots/{name}\.png\)$", markdown, re.M), name
    assert f"_the best value was first reached at trial {positions(records)[best.trial_id]} of 60 " in markdown
    top = markdown_table(markdown, "Top 10 trials")
    assert top == [["#", "trial", "validation_accuracy", *PARAMETERS, "duration"], *top_rows(records)]
    every = markdown_table(markdown, "All trials (60)")
    assert [row[:3] for row in every[1:]] == [[r.trial_id, r.state.lower(), shown(r.objective)] for r in records]


def best_so_far(records) -> list[float]:
    """The best succeeded objective after each trial in start order (NaN before the first success)."""
    running, curve = -math.inf, []
    for r in sorted(records, key=lambda r: r.started):
        running = max(running, r.objective) if r.state == "SUCCEEDED" else running
        curve.append(running if running > -math.inf else math.nan)
    return curve


def test_a_comparison_overlays_each_runs_best_so_far_and_sets_their_best_trials_side_by_side(tmp_path, drawn):
    """Two runs (the even and the odd trials of the synthetic sweep; the odd run holds the overall best):
    the overlay draws each run's own curve, the page, report.md and best_trials.csv name each run's best
    trial, and the leader is the odd run."""
    halves = {"even": lambda t: int(t.record.trial_id) % 2 == 0, "odd": lambda t: int(t.record.trial_id) % 2 == 1}
    sweeps = [synth_sweep(tmp_path / name, 60, keep=keep, run_id=name) for name, keep in halves.items()]
    console = Console(file=io.StringIO(), width=200)
    files = write_comparison_report(sweeps, str(tmp_path / "out"), console)
    records = {name: synth_records(60, keep) for name, keep in halves.items()}
    best = {name: ranked(rs)[0] for name, rs in records.items()}
    assert best["odd"].objective > best["even"].objective

    [(_, figure)] = drawn
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.lines] == [
        f"{name}: {shown(best[name].objective)} (trial {best[name].trial_id})" for name in halves]
    for line, name in zip(ax.lines, halves):
        assert list(line.get_xdata()) == list(range(1, 31))
        assert np.allclose(line.get_ydata(), best_so_far(records[name]), equal_nan=True), name

    rows = {cells[0]: cells[1:] for _, cells in html_table(files["report.html"].decode(), "best")[1]}
    assert rows["best trial"] == [best[name].trial_id for name in halves]
    assert rows["objective"] == [shown(best[name].objective) for name in halves]
    assert rows["learning_rate"][0].startswith(shown(best["even"].parameters["learning_rate"]) + " · ")
    assert rows["trials"] == [f"30 trials: {sum(r.state == 'SUCCEEDED' for r in records[name])} succeeded, "
                              f"{sum(r.state == 'STOPPED' for r in records[name])} stopped, "
                              f"{sum(r.state == 'FAILED' for r in records[name])} failed" for name in halves]
    markdown = files["report.md"].decode()
    table = markdown_table(markdown, "Best trials side by side")
    assert table[0] == ["", "even", "odd"]
    assert {row[0]: row[1:] for row in table[1:]} == rows
    leader = f"best: odd, trial {best['odd'].trial_id}, validation_accuracy {shown(best['odd'].objective)}"
    assert leader in markdown.splitlines() and leader in console.file.getvalue()
    csv = pd.read_csv(io.BytesIO(files["best_trials.csv"]), dtype={"trial_id": str})
    assert csv[["run_id", "trial_id", "objective"]].values.tolist() == [
        [name, best[name].trial_id, best[name].objective] for name in halves]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: install it (apt-get install chromium) "
                                                  "to check the page in a browser")
def test_the_page_renders_in_chromium(written, tmp_path):
    out, _, _ = written
    with Chromium(tmp_path / "profile") as browser:
        browser.load((out / "report.html").as_uri())
        images = browser.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
        above_fold = browser.evaluate(
            "[document.querySelector('.winner'), document.querySelector('img[alt=\"Which parameters mattered\"]')]"
            ".map(e => e.getBoundingClientRect().top < window.innerHeight)")
        browser.screenshot(tmp_path / "report.png")
    assert browser.errors == []
    assert len(images) == len(ALL_PLOTS) and all(done and width > 0 for _, done, width in images), images
    assert above_fold == [True, True]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chromium_reports_a_broken_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent")
    page = tmp_path / "broken.html"
    page.write_text('<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>')
    with Chromium(tmp_path / "profile") as browser:
        browser.load(page.as_uri())
        widths = browser.evaluate("[...document.images].map(i => i.naturalWidth)")
    assert widths == [0] and any("boom" in e for e in browser.errors)



def test_a_narrow_terminal_shows_the_parameters_that_mattered_uncut(tmp_path):
    sweep = synth_sweep(tmp_path, 30)
    console = Console(file=io.StringIO(), width=72)
    print_sweep(console, summarize(sweep))
    lines = console.file.getvalue().splitlines()
    header = next(line for line in lines if "trial" in line and "validation_accuracy" in line)
    best = sweep.best()
    assert all(len(line) <= 72 for line in lines)
    assert "learning_rate" in header and "…" not in console.file.getvalue()
    assert f"{best['learning_rate']:.4g}" in next(line for line in lines if f" {best['trial_id']} " in line)
    assert "more parameter(s) in report.html" in " ".join(console.file.getvalue().split())


def test_a_plot_matplotlib_cannot_draw_says_so_and_the_report_keeps_the_others(tmp_path):
    spec = synth_spec()
    wide = spec.parameters["learning_rate"].model_copy(update={"min": 1e-300, "max": 1e300})
    spec = spec.model_copy(update={"parameters": {**spec.parameters, "learning_rate": wide}})

    def extreme(trial) -> bool:  # values a log axis cannot tick: matplotlib overflows
        trial.record.parameters["learning_rate"] = 1e-300 if int(trial.record.trial_id) % 2 else 1e300
        return True

    plots = sweep_plots(synth_sweep(tmp_path, 30, spec, keep=extreme), {"learning_rate": 1.0})
    assert [p.name for p in plots] == ALL_PLOTS
    not_drawn = [p.name for p in plots if p.caption.startswith("not drawn: matplotlib could not place these values")]
    assert "parameters" in not_drawn and "objective" not in not_drawn
    assert all(p.png.startswith(b"\x89PNG") for p in plots)
