"""Logistic regression trainer for sweeps (see task.py)."""
