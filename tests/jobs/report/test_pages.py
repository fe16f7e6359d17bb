"""What the report's pages show: the winner and the tables of a self-contained HTML page and of report.md, a
comparison of runs, and the page as headless Chromium renders it. The expected values come from the synthetic
trials themselves."""

from __future__ import annotations

import base64
import io
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from jobs.report.write import write_comparison_report
from tests.support.report_fixtures import (
    ALL_PLOTS,
    CHROMIUM,
    SPEC,
    Chromium,
    best_so_far,
    positions,
    ranked,
    synth_records,
    synth_sweep,
)

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
