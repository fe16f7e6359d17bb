"""The built-in dataset and the data a trainer reads: ``invoke data`` and the default spec's inputs.

    prepare.py     a CSV (or the built-in dataset) as train/validation .npz files
    defaults.py    the default spec and data folder
"""
