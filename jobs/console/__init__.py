"""What a user sees in the terminal: the one place that renders what backends return.

    render.py      an Outcome (jobs/run/outcome.py) in words: lines, trials tables, the best trial, exit status
    progress.py    the live progress of a sweep
    tables.py      the spec's search and a run's trials as tables
    text.py        the console a task prints to, and styled text
"""
