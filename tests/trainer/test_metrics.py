"""HyperTuneFile writes exactly what cloudml-hypertune writes, byte for byte."""

from __future__ import annotations

import itertools
import os
import time

import hypertune

from trainer.metrics import HyperTuneFile


def _reports() -> list[tuple]:
    """(tag, value, global_step, checkpoint_path): long lines first, then shorter ones past the 100 kept."""
    rows = []
    for step in range(1, 71):
        rows.append(("validation_accuracy", step / 1000 + 1e-9, step * 1000))
        rows.append(("validation_loss", 1 / step, step * 1000))
    rows += [("validation_loss", 0.5, 2), ("validation_loss", 1, None), ("", 2.0, 0.0), ("m", "3", 4.7, "gs://b/c")]
    rows += [("m", 1.0, step) for step in range(1, 100)]
    return rows


def test_same_bytes_as_the_library_after_every_report(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "12")
    clock = itertools.count(1_700_000_000.123456, 0.25)
    monkeypatch.setattr(time, "time", lambda: next(clock))  # the same timestamps for both writers
    stock_path, our_path = tmp_path / "stock" / "metrics", tmp_path / "ours" / "sub" / "metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(stock_path))
    stock = hypertune.HyperTune()
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(our_path))
    ours = HyperTuneFile()
    assert our_path.parent.is_dir() and not our_path.exists()  # the folder at once, the file at the first report
    sizes = []
    for i, report in enumerate(_reports()):
        now = next(clock)
        monkeypatch.setattr(time, "time", lambda now=now: now)
        stock.report_hyperparameter_tuning_metric(*report)
        ours.report_hyperparameter_tuning_metric(*report)
        assert our_path.read_bytes() == stock_path.read_bytes(), f"after report {i + 1}"
        sizes.append(our_path.stat().st_size)
    ours.close()
    text = our_path.read_text()
    assert len(text.splitlines()) == 100 and text.endswith('"global_step": "99", "m": "1.0", "timestamp": '
                                                           f'{now}, "trial": "12"}}\n')
    assert any(later < earlier for earlier, later in itertools.pairwise(sizes))  # it shrank too, not only grew


def test_defaults_as_the_library(monkeypatch):
    monkeypatch.delenv("CLOUD_ML_HP_METRIC_FILE", raising=False)
    monkeypatch.delenv("CLOUD_ML_TRIAL_ID", raising=False)
    stock, ours = hypertune.HyperTune(), HyperTuneFile()
    assert ours.metric_path == stock.metric_path == "/tmp/hypertune/output.metrics"
    assert ours.trial_id == str(stock.trial_id) == "0"
    assert os.path.isdir("/tmp/hypertune")
