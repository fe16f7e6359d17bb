"""Reports of sweeps: every trial's parameters and metrics in one DataFrame, as CSV, Markdown and HTML.

    (a run's TrialRecords, jobs.trial.record, come from its backend's ``records``: jobs/backends.py)
    collect.py   records + metrics.json (fetched concurrently) -> the contract DataFrame (CollectedRun)
    importance.py which parameters mattered (Optuna's evaluator)
    plots.py     the plots, as PNG
    summary.py   what every format says: winner, runners-up, warnings, tables as text
    page.py, markdown.py, terminal.py, compare.py   the formats, and several runs side by side
    write.py     the files of a report, written to a folder or gs:// prefix
    entry.py     report(): pick the runs, take their trials (local or Vertex AI), write the report
"""

from jobs.report.entry import report

__all__ = ["report"]
