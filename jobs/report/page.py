"""report.html: one self-contained page (inline CSS, plots as base64 PNG, no script, no external URL).

The winner and the importance chart come first, the plots next, every raw number last.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape

from jobs.report.compare import leader
from jobs.report.plots import Plot
from jobs.report.summary import Summary
from jobs.report.text import duration, number, state, state_counts

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}
.sub{color:#4b5563;margin:0 0 14px}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 18px}
.chip{border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;background:#e5e7eb}
.s-succeeded{background:#dcfce7;color:#166534}.s-stopped{background:#fef3c7;color:#92400e}
.s-failed,.s-infeasible{background:#fee2e2;color:#991b1b}.s-running,.s-requested,.s-stopping{background:#dbeafe;color:#1e40af}
.warn{background:#fff7ed;border:1px solid #fdba74;color:#9a3412;border-radius:8px;padding:8px 12px;margin:0 0 10px}
.hero{display:grid;grid-template-columns:minmax(300px,5fr) 6fr;gap:18px;margin:0 0 18px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:18px 20px}
.winner{border-top:4px solid #dc2626}
.label{text-transform:uppercase;letter-spacing:.06em;font-size:11px;color:#6b7280;font-weight:700}
.value{font-size:44px;font-weight:750;line-height:1.1;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.value small{font-size:16px;color:#374151;font-weight:600;margin-left:10px}
.params{width:100%;border-collapse:collapse;margin:12px 0 10px}
.params td{padding:4px 6px;border-bottom:1px solid #f1f5f9}
.params td:first-child{color:#374151}.params td:nth-child(2){font-weight:700;font-variant-numeric:tabular-nums}
.params td:last-child{color:#9ca3af;font-size:12px;text-align:right}
.small{font-size:12px;color:#6b7280}.path{word-break:break-all}
figure{margin:0}figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:12px;color:#6b7280;margin-top:6px}
section.card{margin:0 0 18px}
.scroll{overflow-x:auto;max-height:640px;overflow-y:auto}
table.data{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums;white-space:nowrap}
table.data th{position:sticky;top:0;background:#f9fafb;text-align:left;padding:6px 8px;border-bottom:2px solid #e5e7eb}
table.data td{padding:4px 8px;border-bottom:1px solid #f1f5f9}
table.data tr.best td{background:#fef2f2;font-weight:700}
table.data td.err{color:#b91c1c;white-space:normal;min-width:260px}
table.data th:first-child,table.data td:first-child{position:sticky;left:0;background:inherit}
table.data tr{background:#fff}
@media (max-width:820px){.hero{grid-template-columns:1fr}}
"""


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n")


def _image(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(plot.title)}">'
            f"<figcaption>{escape(plot.caption)}</figcaption></figure>")


def _section(plot: Plot) -> str:
    return f'<section class="card" id="{plot.name}"><h2>{escape(plot.title)}</h2>{_image(plot)}</section>'


def _table(header: list[str], rows: list[list[str]], highlight: str | None = None, key: int = 0,
           error_column: int | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="err">{escape(v)}</td>' if i == error_column else f"<td>{escape(v)}</td>"
                        for i, v in enumerate(row))
        body.append(f'<tr class="best">{cells}</tr>' if highlight is not None and row[key] == highlight
                    else f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _chips(states: list[str]) -> str:
    return '<div class="chips">' + "".join(
        f'<span class="chip s-{state(s)}">{n} {escape(state(s))}</span>' for s, n in state_counts(states)) + "</div>"


def _header(title: str, subtitle: str, states: list[str], warnings: list[str]) -> str:
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"<h1>{escape(title)}</h1><p class=\"sub\">{escape(subtitle)} · generated {stamp}</p>"
            + _chips(states) + "".join(f'<div class="warn">{escape(w)}</div>' for w in warnings))


def _winner(summary: Summary) -> str:
    spec, best = summary.sweep.spec, summary.best
    if best is None:
        return '<div class="card winner"><div class="label">best trial</div><p>none yet: no trial succeeded</p></div>'
    rows = "".join(f"<tr><td>{escape(p)}</td><td>{escape(v)}</td><td>{escape(r)}</td></tr>"
                   for p, v, r in summary.best_parameters())
    others = ", ".join(f"trial {escape(t)}: {escape(v)}" for t, v in summary.runners_up())
    tied = summary.tied()
    tie = f"{tied} other trial{'s' * (tied > 1)} reached this value too; the lowest trial id is shown" if tied else ""
    return (f'<div class="card winner"><div class="label">best trial · {escape(spec.metric.goal)} '
            f'{escape(spec.metric.id)}</div>'
            f'<div class="value">{escape(number(best["objective"]))}<small>trial {escape(best["trial_id"])}'
            f' · {escape(duration(best["duration_s"]))}</small></div>'
            f'<table class="params">{rows}</table>'
            + (f'<p class="small">{tie}</p>' if tie else "")
            + (f'<p class="small">next best: {others}</p>' if others else "")
            + f'<p class="small path">artifacts: {escape(best["artifact_dir"])}</p></div>')


def _importance(summary: Summary, plots: dict[str, Plot]) -> str:
    inner = _image(plots["importance"]) if "importance" in plots else f"<p>{escape(summary.importance_note)}</p>"
    note = f'<p class="small">{escape(summary.importance_note)}</p>' if "importance" in plots else ""
    return f'<div class="card"><div class="label">which parameters mattered</div>{inner}{note}</div>'


def sweep_page(summary: Summary, plots: list[Plot]) -> str:
    """The report of one run."""
    by_name = {p.name: p for p in plots}
    frame = summary.sweep.frame
    best_id = None if summary.best is None else summary.best["trial_id"]
    top_header, top_rows = summary.top_table()
    header, rows = summary.full_table()
    body = [_header(summary.title, summary.subtitle, frame["state"].tolist(), summary.warnings),
            f'<div class="hero">{_winner(summary)}{_importance(summary, by_name)}</div>',
            *(_section(p) for p in plots if p.name != "importance")]
    if top_rows:
        body.append(f'<section class="card" id="top"><h2>Top {len(top_rows)} trials</h2>'
                    f"{_table(top_header, top_rows, best_id, key=1)}</section>")
    if failures := summary.failures():
        body.append(f'<section class="card" id="failures"><h2>Why trials failed ({len(failures)})</h2>'
                    f'{_table(["trial", "state", "error"], failures, error_column=2)}</section>')
    body.append(f'<section class="card" id="all"><h2>All trials ({len(rows)})</h2>'
                f'<p class="small">the columns of trials.csv; values rounded here, exact in the CSV</p>'
                f"{_table(header, rows, best_id, error_column=header.index('error'))}</section>")
    return _document(summary.title, "\n".join(body))


def comparison_page(summaries: list[Summary], plots: list[Plot], header: list[str], rows: list[list[str]]) -> str:
    """One page comparing runs: their best trials side by side, the best-so-far curves overlaid,
    then each run's top trials."""
    title = "comparison · " + " vs ".join(s.sweep.run_id for s in summaries)
    states = [v for s in summaries for v in s.sweep.frame["state"]]
    warnings = [f"{s.sweep.run_id}: {w}" for s in summaries for w in s.warnings]
    body = [_header(title, " · ".join(filter(None, [f"{len(summaries)} runs", leader(summaries)])), states, warnings),
            f'<section class="card" id="best"><h2>Best trials side by side</h2>'
            "<p class=\"small\">parameter cells: the best trial's value · the parameter's importance in that run</p>"
            f"{_table(header, rows)}</section>",
            *(_section(p) for p in plots)]
    for s in summaries:
        top_header, top_rows = s.top_table()
        table = (_table(top_header, top_rows, s.best["trial_id"], key=1) if top_rows else "<p>no trial succeeded</p>")
        body.append(f'<section class="card"><h2>{escape(s.title)}</h2><p class="sub">{escape(s.subtitle)}</p>'
                    f"{table}</section>")
    return _document(title, "\n".join(body))
