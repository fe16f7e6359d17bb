"""A run: its folder under runs/ (layout, run.json, the one-orchestrator lock), its trial budget, its outcome.

    folder.py      RunFolder, RunMeta, RunLock: the one place that knows a run folder's layout
    budget.py      the spec's trials with the command line's overrides; how many trials a sweep runs
    outcome.py     what a backend's command returns for the console to render, and the notes it gives meanwhile
"""
