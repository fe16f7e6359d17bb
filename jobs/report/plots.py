"""The report's plots, drawn with matplotlib's object API (no pyplot, no global backend) as PNG.

Each ``Plot`` holds its PNG bytes, a title and a caption; a plot with nothing to show is left out.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import cm, colors, ticker
from matplotlib.figure import Figure

from jobs.report.collect import CollectedRun
from jobs.report.text import number
from jobs.trial.record import FAILURES, TrialState

STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.labelsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
    "axes.edgecolor": "#9ca3af", "legend.frameon": False, "legend.fontsize": 8, "savefig.dpi": 110,
}
POINT, BEST, TRACE, STOPPED, FAILED, FINISHED = "#3b82f6", "#dc2626", "#334155", "#f59e0b", "#dc2626", "#a3a3a3"
CURVE_COLORS = ["#dc2626", "#2563eb", "#16a34a", "#9333ea", "#f59e0b"]


@dataclass(frozen=True)
class Plot:
    name: str  # file stem: plots/<name>.png
    title: str
    png: bytes
    caption: str


def _render(draw: Callable[..., tuple[Figure, str] | None], *args) -> tuple[bytes, str] | None:
    with matplotlib.rc_context(STYLE), np.errstate(all="ignore"):  # an overflow is handled below, not printed
        try:
            drawn = draw(*args)
            if drawn is None:
                return None
            return _png(drawn[0]), drawn[1]
        except (OverflowError, ValueError) as exc:  # values matplotlib cannot place, e.g. 1e-300..1e300 on a log axis
            return _png(_not_drawn(exc)), f"not drawn: matplotlib could not place these values ({exc})"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _not_drawn(exc: Exception) -> Figure:
    """A small figure that says a plot could not be drawn (the report keeps every other part)."""
    figure = Figure(figsize=(5, 0.8))
    figure.text(0.5, 0.5, f"not drawn: {type(exc).__name__}", ha="center", va="center", color=FAILED)
    return figure


def sweep_plots(sweep: CollectedRun, importances: dict[str, float]) -> list[Plot]:
    """Every plot of one run that has something to show, in reading order."""
    order = list(importances) + [p for p in sweep.spec.parameters if p not in importances]
    metric = sweep.spec.metric.id
    wanted = [
        ("importance", "Which parameters mattered", _importance, (importances,)),
        ("objective", f"{metric} by trial", _objective_by_trial, (sweep,)),
        ("parameters", f"Each parameter against {metric}", _parameters, (sweep, order, importances)),
        ("parallel", "Parallel coordinates", _parallel, (sweep, order)),
        ("curves", "Learning curves of the top trials", _curves, (sweep,)),
        ("early_stopping", "Early stopping", _early_stopping, (sweep,)),
    ]
    return [Plot(name, title, *drawn) for name, title, draw, args in wanted if (drawn := _render(draw, *args))]


def comparison_plots(sweeps: list[CollectedRun]) -> list[Plot]:
    """The plots that compare runs: best-so-far curves overlaid."""
    drawn = _render(_best_so_far_overlay, sweeps)
    return [Plot("best_so_far", "Best so far, run against run", *drawn)] if drawn else []


def _importance(importances: dict[str, float]) -> tuple[Figure, str] | None:
    if not importances:
        return None
    names, values = list(importances)[::-1], list(importances.values())[::-1]
    figure = Figure(figsize=(5.2, 0.5 + 0.34 * len(names)), layout="constrained")
    ax = figure.subplots()
    bars = ax.barh(names, values, color=[BEST if v == max(values) else POINT for v in values], height=0.62)
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, max(values) * 1.18 or 1)
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", visible=False)
    return figure, "each parameter's share of the importance (the shares sum to 100%)"


def _rug(ax, rows: pd.DataFrame, color: str, marker: str, label: str) -> None:
    """Trials without a comparable objective, as marks along the bottom edge."""
    if len(rows):
        ax.scatter(rows["position"], np.zeros(len(rows)), transform=ax.get_xaxis_transform(), marker=marker,
                   color=color, s=70, clip_on=False, zorder=4, label=label, linewidths=2)


def _objective_by_trial(sweep: CollectedRun) -> tuple[Figure, str] | None:
    line = sweep.timeline()
    done = line[(line["state"] == TrialState.SUCCEEDED) & line["objective"].notna()]
    if done.empty:
        return None
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    ax = figure.subplots()
    small = len(line) <= 60
    ax.scatter(done["position"], done["objective"], s=22 if small else 9, color=POINT, alpha=0.8,
               label="succeeded trial", zorder=3)
    ax.step(line["position"], line["best_so_far"], where="post", color=TRACE, linewidth=2, label="best so far")
    best = sweep.best()
    at = done[done["trial_id"] == best["trial_id"]]
    ax.scatter(at["position"], at["objective"], marker="*", s=220, color=BEST, zorder=5,
               edgecolor="white", label=f"best: trial {best['trial_id']} ({number(best['objective'])})")
    _rug(ax, line[line["stopped_early"]], STOPPED, "|", "stopped early")
    _rug(ax, line[line["state"].isin(FAILURES)], FAILED, "x", "failed")
    ax.set_xlabel("trial, in start order")
    ax.set_ylabel(sweep.spec.metric.id)
    ax.set_xlim(0.5, len(line) + 0.5)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncols=5, borderaxespad=0)
    first = line.loc[line["best_so_far"] == best["objective"], "position"].min()
    return figure, (f"the best value was first reached at trial {first} of {len(line)} in start order; "
                    "a long flat line at the end means more trials stopped paying off")


def _parameters(sweep: CollectedRun, order: list[str], importances: dict[str, float]) -> tuple[Figure, str] | None:
    done = sweep.ranked()
    if done.empty:
        return None
    best = sweep.best()
    columns = min(3, len(order))
    rows = math.ceil(len(order) / columns)
    figure = Figure(figsize=(3.3 * columns, 2.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    for ax, pid in zip(axes, order):
        parameter = sweep.spec.parameters[pid]
        have = done[done[pid].notna()]
        if parameter.type == "categorical":
            groups = [have.loc[have[pid] == v, "objective"].to_numpy() for v in parameter.values]
            ax.boxplot(groups, positions=range(len(groups)), widths=0.5, showfliers=False,
                       medianprops={"color": TRACE})
            jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(have))
            ax.scatter([parameter.values.index(v) for v in have[pid]] + jitter, have["objective"], s=12,
                       color=POINT, alpha=0.7, zorder=3)
            ax.set_xticks(range(len(parameter.values)), parameter.values)
            best_x = parameter.values.index(best[pid]) if best[pid] in parameter.values else None
        else:
            ax.scatter(have[pid].astype(float), have["objective"], s=14, color=POINT, alpha=0.75, zorder=3)
            _spec_range(ax, parameter)
            best_x = best[pid]
        if best_x is not None and not pd.isna(best_x):
            ax.scatter([best_x], [best["objective"]], marker="*", s=160, color=BEST, zorder=5, edgecolor="white")
        scale = getattr(parameter, "scale", "linear")
        ax.set_xlabel(pid + ("" if scale == "linear" else f" ({scale})"))
        if pid in importances:
            ax.set_title(f"importance {importances[pid]:.0%}", loc="left", fontsize=8, fontweight="normal",
                         color="#6b7280")
    for ax in axes[len(order):]:
        ax.set_visible(False)
    for ax in axes[::columns]:
        ax.set_ylabel(sweep.spec.metric.id)
    return figure, ("succeeded trials across each parameter's range in the spec, most important first; "
                    "the red star is the best trial"
                    + ("; categorical parameters as box plots" if any(
                        sweep.spec.parameters[p].type == "categorical" for p in order) else ""))


def _spec_range(ax, parameter) -> None:
    """The x-axis spans the spec's whole range (log where the spec says so), so trials bunched at an
    edge show that the range may be too narrow."""
    low, high = (min(parameter.values), max(parameter.values)) if parameter.type == "discrete" else (
        parameter.min, parameter.max)
    if parameter.scale != "linear" and low > 0:
        ax.set_xscale("log")
        ax.set_xlim(low / 1.25, high * 1.25)
        if high / low < 20:  # under about a decade the log axis would label only one or two ticks
            ax.xaxis.set_major_locator(ticker.MaxNLocator(4))
            ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(ticker.NullLocator())
    elif high > low:
        margin = (high - low) * 0.05
        ax.set_xlim(low - margin, high + margin)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(5, integer=parameter.type == "integer"))


def _labelled_values(parameter) -> list | None:
    """The values a parallel axis places one by one: categorical and discrete values, short integer ranges."""
    if parameter.type in ("categorical", "discrete"):
        return list(parameter.values)
    if parameter.type == "integer" and parameter.max - parameter.min < 8:
        return list(range(parameter.min, parameter.max + 1))
    return None


def _axis_position(parameter, values: pd.Series) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Values placed on [0, 1] along a parameter's spec range, and the axis's tick labels."""
    if (choices := _labelled_values(parameter)) is not None:
        span = max(1, len(choices) - 1)
        index = {v: i for i, v in enumerate(choices)}
        placed = np.array([index.get(v, np.nan) / span for v in values], dtype=float)
        shown = choices if len(choices) <= 8 else [choices[0], choices[-1]]
        return placed, [(index[v] / span, number(v)) for v in shown]
    low, high = float(parameter.min), float(parameter.max)
    transform = np.log10 if parameter.scale != "linear" else (lambda x: x)
    numbers = values.astype(float).to_numpy()
    placed = (transform(numbers) - transform(low)) / (transform(high) - transform(low))
    return placed, [(0.0, number(low)), (1.0, number(high))]


def _parallel(sweep: CollectedRun, order: list[str]) -> tuple[Figure, str] | None:
    done = sweep.ranked()
    if len(done) < 2:
        return None
    goal = sweep.goal
    objective = done["objective"].to_numpy(dtype=float)
    low, high = objective.min(), objective.max()
    quality = (objective - low) / (high - low) if high > low else np.ones_like(objective)
    quality = quality if goal == "maximize" else 1 - quality
    columns, ticks = [], []
    for pid in order:
        placed, labels = _axis_position(sweep.spec.parameters[pid], done[pid])
        columns.append(placed)
        ticks.append(labels)
    columns.append((objective - low) / (high - low) if high > low else np.full_like(objective, 0.5))
    ticks.append([(0.0, number(low)), (1.0, number(high))])
    matrix = np.column_stack(columns)
    figure = Figure(figsize=(max(6.5, 1.25 * len(columns)), 3.8), layout="constrained")
    ax = figure.subplots()
    colormap = matplotlib.colormaps["viridis"]
    x = np.arange(len(columns))
    alpha = 0.75 if len(done) <= 50 else 0.3
    for i in range(len(done) - 1, 0, -1):  # ranked best first: draw the worst first, the best last on top
        ax.plot(x, matrix[i], color=colormap(quality[i]), alpha=alpha, linewidth=1.1)
    ax.plot(x, matrix[0], color=BEST, linewidth=2.6, zorder=5, label=f"best: trial {done['trial_id'].iloc[0]}")
    for i, labels in enumerate(ticks):
        ax.axvline(i, color="#6b7280", linewidth=0.8, zorder=1)
        for y, text in labels:
            ax.annotate(text, (i, y), xytext=(4, 0), textcoords="offset points", fontsize=7, va="center",
                        color="#374151", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xticks(x, [*order, sweep.spec.metric.id], rotation=20, ha="right")
    ax.set_yticks([])
    ax.grid(False)
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.set_xlim(-0.2, len(columns) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper left", bbox_to_anchor=(0, 1.12), ncols=1)
    scale = cm.ScalarMappable(cmap=colormap, norm=colors.Normalize(0, 1))
    bar = figure.colorbar(scale, ax=ax, shrink=0.8, pad=0.01, ticks=[0, 1])
    bar.ax.set_yticklabels(["worst", "best"])
    return figure, ("one line per succeeded trial across each parameter's range (log where the spec says so), "
                    "coloured from worst to best objective")


def _curves(sweep: CollectedRun) -> tuple[Figure, str] | None:
    if not sweep.histories:
        return None
    figure = Figure(figsize=(9, 3.3), layout="constrained")
    loss_ax, accuracy_ax = figure.subplots(1, 2)
    objectives = sweep.frame.set_index("trial_id")["objective"]
    best_id = sweep.best()["trial_id"]
    for color, (trial_id, curve) in zip(CURVE_COLORS, sweep.histories.items()):
        width, layer = (2.6, 3) if trial_id == best_id else (1.3, 2)
        label = f"trial {trial_id} ({number(objectives[trial_id])})"
        for ax, column in ((loss_ax, "val_loss"), (accuracy_ax, "val_accuracy")):
            if column in curve.columns:
                ax.plot(curve["epoch"], curve[column], color=color, linewidth=width, label=label, zorder=layer)
    loss_ax.set(xlabel="epoch", ylabel="val_loss", title="validation loss")
    accuracy_ax.set(xlabel="epoch", ylabel="val_accuracy", title="validation accuracy")
    accuracy_ax.legend(loc="lower right")
    shown = ", ".join(sweep.histories)
    missing = [t for t in sweep.ranked()["trial_id"].head(len(CURVE_COLORS)) if t not in sweep.histories]
    return figure, (f"eval_history.csv of trials {shown} (best first; the thick line is the best trial)"
                    + (f"; no readable eval_history.csv for trial {', '.join(missing)}" if missing else ""))


def _early_stopping(sweep: CollectedRun) -> tuple[Figure, str] | None:
    line = sweep.timeline()
    line = line[line["step"].notna() & line["state"].isin([TrialState.SUCCEEDED, TrialState.STOPPED])]
    stopped = line[line["stopped_early"]]
    if line.empty or (sweep.spec.early_stopping == "none" and stopped.empty):
        return None
    figure = Figure(figsize=(9, 2.8), layout="constrained")
    ax = figure.subplots()
    for rows, color, label in ((line[~line["stopped_early"]], FINISHED, "ran to the end"),
                               (stopped, STOPPED, "stopped early")):
        ax.vlines(rows["position"], 0, rows["step"], color=color, linewidth=1.6)
        ax.scatter(rows["position"], rows["step"], color=color, s=18, zorder=3, label=label)
    ax.set(xlabel="trial, in start order", ylabel="last step reported", xlim=(0.5, line["position"].max() + 0.5))
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncols=2, borderaxespad=0)
    if stopped.empty:
        return figure, f"early stopping ({sweep.spec.early_stopping}) stopped no trial"
    return figure, (f"{len(stopped)} of {len(line)} trials stopped early ({sweep.spec.early_stopping}), "
                    f"median at step {number(float(stopped['step'].median()))}: "
                    + ", ".join(f"trial {t} at step {int(s)}" for t, s in
                                zip(stopped["trial_id"].head(12), stopped["step"].head(12)))
                    + (", ..." if len(stopped) > 12 else ""))


def _best_so_far_overlay(sweeps: list[CollectedRun]) -> tuple[Figure, str] | None:
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    ax = figure.subplots()
    drawn = 0
    for sweep, color in zip(sweeps, CURVE_COLORS * len(sweeps)):
        line = sweep.timeline()
        if line["best_so_far"].notna().any():
            best = sweep.best()
            ax.step(line["position"], line["best_so_far"], where="post", color=color, linewidth=2,
                    label=f"{sweep.run_id}: {number(best['objective'])} (trial {best['trial_id']})")
            drawn += 1
    if not drawn:
        return None
    metrics = {f"{s.spec.metric.goal} {s.spec.metric.id}" for s in sweeps}
    ax.set(xlabel="trial, in start order", ylabel=" / ".join(sorted({s.spec.metric.id for s in sweeps})))
    ax.legend(loc="best")
    note = "" if len(metrics) == 1 else "; the runs optimise different metrics: compare with care"
    return figure, f"the best succeeded objective of each run after each trial ({' / '.join(sorted(metrics))}){note}"
