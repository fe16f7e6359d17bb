"""The local backend: a sweep on this machine, on Optuna, one process per trial.

    backend.py     LocalBackend (jobs/backends.py): plan, run or resume, status, cancel, records
    loop.py        the sweep loop: Optuna asks, trial processes run, their reports come back
    search.py      samplers, pruners, suggestions and grid points
    stopping.py    the early stopping rules (median, decay curve) as Optuna pruners
    process.py     a trial as a process (or a fork of the warm server); groups.py, ending its process group
    forkserver.py  the warm server that forks the reference trainer's trials; warm.py, what it preloads
    guard.py       the process-group guard of any other trainer's trial
    journal.py     repairing a torn Optuna journal
"""
