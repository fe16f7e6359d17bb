"""The trial contract: what a trial receives and must do, on every backend (docs/trainer-contract.md).

    command.py     what the platform knows of a trainer command: the reference trainer, reported metrics
    reports.py     a trial's metric reports: the hypertune file and printed ``<metric>: <value>`` lines
    artifacts.py   what a trial leaves in its model folder: metrics.json and eval_history.csv
    record.py      one trial as the platform records it: state, values, how trials rank
"""
