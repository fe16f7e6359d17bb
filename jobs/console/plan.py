"""What a sweep will search, as the table both backends print before they run (and on ``--dry-run``)."""

from __future__ import annotations

from rich.table import Table

from jobs.spec import Spec


def plan_table(spec: Spec) -> Table:
    """The spec's search: algorithm, metric, early stopping, and each parameter's range and condition."""
    table = Table(title=f"{spec.name}: {spec.algorithm} search, {spec.metric.goal} {spec.metric.id} "
                        f"({spec.measurement} report), early stopping {spec.early_stopping}", title_justify="left")
    for column in ("parameter", "type", "range or values", "scale", "when"):
        table.add_column(column)
    for pid, p in spec.parameters.items():
        span = f"{p.min:g} .. {p.max:g}" if p.type in ("double", "integer") else ", ".join(map(str, p.values))
        when = ", ".join(f"{k} in {v}" for k, v in (p.when or {}).items())
        table.add_row(pid, p.type, span, getattr(p, "scale", ""), when)
    return table
