"""What a user sees in the terminal: the one place that renders what backends return.

    progress.py    the live progress of a sweep, and the console a task prints to
    plan.py        the spec's search as a table
"""
