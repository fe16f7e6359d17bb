"""What the report shows: importances, which plots a sweep gets, a self-contained HTML page, and the
page as headless Chromium renders it."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest
from rich.console import Console

from jobs.report.collect import collect
from jobs.report.importance import param_importances
from jobs.report.plots import sweep_plots
from jobs.report.summary import summarize
from jobs.report.terminal import print_sweep
from jobs.report.write import write_sweep_report
from jobs.spec import parse_spec
from tests.jobs.report_fixtures import (CHROMIUM, SPEC, Chromium, synth_spec, synth_trials, under_artifacts_base,
                                        write_artifacts)

ALL_PLOTS = ["importance", "objective", "parameters", "parallel", "curves", "early_stopping"]


def synth_sweep(tmp_path, count: int, spec=None, keep=lambda t: True):
    trials = [t for t in synth_trials(count, seed=5) if keep(t)]
    write_artifacts(str(tmp_path / "artifacts"), trials)
    records = under_artifacts_base([t.record for t in trials], str(tmp_path / "artifacts"))
    return collect("synth-1", spec or synth_spec(), records)


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


def test_a_sweep_without_success_still_reports(tmp_path):
    failed = synth_sweep(tmp_path, 12, keep=lambda t: t.record.state == "FAILED")
    console = Console(file=io.StringIO(), width=200)
    files = write_sweep_report(failed, str(tmp_path / "out"), console)
    assert set(files) == {"trials.csv", "report.md", "report.html"}
    assert "no trial succeeded" in files["report.html"].decode() and "no trial succeeded" in console.file.getvalue()


def test_the_page_is_self_contained_and_leads_with_the_winner(written):
    out, files, printed = written
    html = files["report.html"].decode()
    assert not re.search(r"<(script|link|iframe)\b", html) and not re.search(r"(src|href)=\"(?!data:)", html)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(i) for i in images] == [(out / "plots" / f"{n}.png").read_bytes() for n in ALL_PLOTS]
    best = re.search(r"best trial: (\d+)\s+validation_accuracy = ([\d.]+)", printed)
    winner = html.index('class="card winner"')
    marks = ['alt="Which parameters mattered"', 'id="objective"', 'id="all"']
    order = [winner, *(html.index(m) for m in marks)]
    assert order == sorted(order)
    assert f"trial {best[1]}" in html[winner:winner + 600]
    assert (out / "trials.csv").read_bytes() == files["trials.csv"] and (out / "report.md").exists()


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
