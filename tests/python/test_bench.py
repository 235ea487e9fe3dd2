"""bench/app_eval_each_epoch.py: training/app.py plus a test evaluation after every epoch (benchmark only)."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, run_script


@pytest.mark.slow
def test_eval_each_epoch_records_test_accuracy_per_epoch(tmp_path, data_dir):
    """Each epoch row gets test_accuracy and the cumulative train_seconds (evaluations excluded)."""
    out = tmp_path / "out"
    proc = run_script(
        ROOT / "bench" / "app_eval_each_epoch.py",
        "--data", str(data_dir / "tiny.npz"), "--output-dir", str(out), "--epochs", "2", "--train-limit", "300",
        "--batch-size", "64",
        env={"MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert 0 < rows[0]["train_seconds"] < rows[1]["train_seconds"] <= metrics["train_seconds"] + 0.01
    assert rows[-1]["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
