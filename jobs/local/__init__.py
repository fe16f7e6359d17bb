"""The local backend: a sweep on this machine, on Optuna, one process per trial."""
