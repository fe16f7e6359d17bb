"""What the report computes and draws: importances, which plots a sweep gets and the trials each one draws,
the terminal summary. The expected values come from the synthetic trials themselves, not from the report's frame."""

from __future__ import annotations

import io
import math

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
from jobs.report.write import write_sweep_report
from jobs.spec import parse_spec
from tests.support.report_fixtures import (
    ALL_PLOTS,
    SPEC,
    best_so_far,
    history_csv,
    positions,
    ranked,
    synth_records,
    synth_spec,
    synth_sweep,
    synth_trials,
    under_artifacts_base,
    write_artifacts,
)


def points(collection, x=float) -> list[float]:
    """A scatter's (x, y) points, sorted and flattened: x1, y1, x2, y2, ... (``x`` applied to each x)."""
    offsets = np.asarray(collection.get_offsets(), dtype=float).tolist()
    return [v for xy in sorted((x(a), b) for a, b in offsets) for v in xy]


def expected(pairs):
    return pytest.approx([v for xy in sorted((float(x), float(y)) for x, y in pairs) for v in xy])


def by_label(ax) -> dict:
    return {c.get_label(): c for c in ax.collections}


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
