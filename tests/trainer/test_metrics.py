"""HyperTuneFile writes exactly what cloudml-hypertune writes."""

from __future__ import annotations

import json

import hypertune

from trainer.metrics import HyperTuneFile


def _report_many(tuner, count: int) -> None:
    for step in range(1, count + 1):
        tuner.report_hyperparameter_tuning_metric("validation_accuracy", step / 1000, global_step=step)
        tuner.report_hyperparameter_tuning_metric("validation_loss", 1 / step, global_step=step)


def _without_time(path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        assert isinstance(row.pop("timestamp"), float)
    return rows


def test_same_content_as_the_stock_library(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "12")
    written = {}
    for name, cls in (("stock", hypertune.HyperTune), ("ours", HyperTuneFile)):
        path = tmp_path / name / "metrics"
        monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
        tuner = cls()
        _report_many(tuner, 70)  # 140 reports: more than the 100 the library keeps
        if isinstance(tuner, HyperTuneFile):
            tuner.close()
        written[name] = _without_time(path)
    assert written["ours"] == written["stock"]
    assert len(written["ours"]) == 100
    assert written["ours"][-1] == {"checkpoint_path": "", "global_step": "70", "trial": "12",
                                   "validation_loss": str(1 / 70)}


def test_file_shrinks_when_lines_get_shorter(tmp_path, monkeypatch):
    path = tmp_path / "m"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    tuner = HyperTuneFile()
    tuner.metrics_queue = type(tuner.metrics_queue)(maxlen=1)
    tuner._lines = type(tuner._lines)(maxlen=1)
    tuner.report_hyperparameter_tuning_metric("m", 0.123456789, global_step=1000)
    tuner.report_hyperparameter_tuning_metric("m", 1.0, global_step=2)
    tuner.close()
    assert [{k: v for k, v in row.items() if k != "trial"} for row in _without_time(path)] == [
        {"checkpoint_path": "", "global_step": "2", "m": "1.0"}]  # the newer, shorter line alone, no old tail
