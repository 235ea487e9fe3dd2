"""training/app.py: artifacts, MLflow metrics, data formats and clear errors for bad data."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from conftest import APP, TRAIN_LIMIT, load_module, run_app, write_idx

app = load_module("train_app", APP)  # numpy-only at import: cheap

METRIC_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def test_writes_the_model_folder(trained, mnist_arrays):
    out = trained["dir"]
    for name in ("mnist_cnn.keras", "model_meta.json", "metrics.json", "training_curve.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_loss"] > 0
    assert metrics["test_accuracy"] > 0.5  # 1 epoch on 900 real digits already learns something
    assert metrics["train_seconds"] > 0
    assert len(metrics["epochs"]) == 1
    assert set(METRIC_KEYS) <= set(metrics["epochs"][0]) and metrics["epochs"][0]["epoch"] == 1

    meta = json.loads((out / "model_meta.json").read_text())
    assert meta["input_shape"] == [28, 28, 1]
    assert meta["class_labels"] == list(range(10))
    assert meta["pixel_scale"] == pytest.approx(1 / 255)
    assert {"keras", "tensorflow", "numpy", "python"} <= set(meta["framework"])
    assert meta["hyperparameters"]["epochs"] == 1 and meta["hyperparameters"]["train_limit"] == TRAIN_LIMIT
    assert meta["data"]["train_images"] + meta["data"]["validation_images"] == TRAIN_LIMIT
    assert meta["data"]["test_images"] == len(mnist_arrays["x_test"])
    expected = hashlib.sha256(b"".join(mnist_arrays[k].tobytes() for k in app.KEYS)).hexdigest()
    assert meta["data"]["sha256"] == expected


def test_last_stdout_line_is_the_result(trained):
    last = trained["stdout"].strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    result = json.loads(last[len("RESULT "):])
    assert result["output_dir"] == str(trained["dir"].resolve())
    assert result["test_accuracy"] == json.loads((trained["dir"] / "metrics.json").read_text())["test_accuracy"]


def test_logs_metrics_to_mlflow(trained, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow >= 3.13 refuses file stores without it
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=trained["tracking_uri"])
    experiment = client.get_experiment_by_name("mnist-cnn")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    for key in METRIC_KEYS:
        history = client.get_metric_history(run.info.run_id, key)
        assert [m.step for m in history] == [0], key
    meta = json.loads((trained["dir"] / "model_meta.json").read_text())
    assert run.data.metrics["test_accuracy"] == pytest.approx(meta["test_accuracy"])
    assert "test_loss" in run.data.metrics
    assert run.data.params["epochs"] == "1"
    assert run.info.run_id == meta["mlflow_run_id"]


def test_trains_from_a_gzipped_idx_folder(tmp_path, data_dir, trained):
    out = tmp_path / "out"
    proc = run_app(
        "--data", str(data_dir / "idx"), "--output-dir", str(out), "--epochs", "1", "--train-limit", "300",
        env={"MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "mnist_cnn.keras").is_file()
    meta = json.loads((out / "model_meta.json").read_text())
    npz_meta = json.loads((trained["dir"] / "model_meta.json").read_text())
    assert meta["data"]["sha256"] == npz_meta["data"]["sha256"]  # same digits, same fingerprint


def test_reads_plain_idx_and_float_npz(tmp_path, mnist_arrays):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", mnist_arrays["x_test"], compress=False)
    assert np.array_equal(app.read_idx(tmp_path / "t10k-images-idx3-ubyte", 3), mnist_arrays["x_test"])

    floats = {k: (v / 255.0 if k.startswith("x") else v.astype(np.int64)) for k, v in mnist_arrays.items()}
    floats["x_train"] = floats["x_train"].reshape(-1, 784)  # flat rows are accepted too
    np.savez(tmp_path / "float.npz", **floats)
    data, _ = app.load_data(tmp_path / "float.npz")
    assert data["x_train"].shape == (1200, 28, 28) and data["x_train"].dtype == np.float32
    assert data["y_test"].dtype == np.uint8
    np.testing.assert_allclose(app.to_model_input(data["x_test"])[..., 0], mnist_arrays["x_test"] / 255, atol=1e-6)


def _fails(*args):
    proc = run_app(*args, timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_missing_data_path_exits_with_the_path(tmp_path):
    missing = tmp_path / "nope.npz"
    err = _fails("--data", str(missing), "--output-dir", str(tmp_path / "o"))
    assert str(missing) in err and "no such file" in err


def test_malformed_npz_exits_with_the_path(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    err = _fails("--data", str(bad), "--output-dir", str(tmp_path / "o"))
    assert str(bad) in err and "npz" in err

    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    err = _fails("--data", str(partial), "--output-dir", str(tmp_path / "o"))
    assert str(partial) in err and "x_test" in err and "y_test" in err

    shapes = tmp_path / "shapes.npz"
    np.savez(shapes, x_train=np.zeros((2, 27, 27), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
    err = _fails("--data", str(shapes), "--output-dir", str(tmp_path / "o"))
    assert str(shapes) in err and "x_train" in err and "(2, 27, 27)" in err


def test_bad_idx_magic_exits_with_the_path(tmp_path, data_dir):
    folder = tmp_path / "idx"
    folder.mkdir()
    for f in (data_dir / "idx").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    bad = folder / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20))  # images magic on a labels file
    err = _fails("--data", str(folder), "--output-dir", str(tmp_path / "o"))
    assert str(bad) in err and "magic" in err


def test_incomplete_idx_folder_exits_with_the_path(tmp_path):
    err = _fails("--data", str(tmp_path), "--output-dir", str(tmp_path / "o"))
    assert str(tmp_path) in err and "train-images-idx3-ubyte" in err


def test_truncated_idx_is_reported(tmp_path, mnist_arrays):
    path = tmp_path / "train-labels-idx1-ubyte"
    write_idx(path, mnist_arrays["y_train"], compress=False)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(app.DataError, match="1200 bytes of data, file has 1195"):
        app.read_idx(path, 1)


def test_labels_out_of_range_are_rejected(tmp_path, mnist_arrays):
    arrays = dict(mnist_arrays, y_test=mnist_arrays["y_test"].astype(np.int64) + 5)
    np.savez(tmp_path / "labels.npz", **arrays)
    with pytest.raises(app.DataError, match="y_test must hold integer labels 0..9"):
        app.load_data(tmp_path / "labels.npz")


def test_bad_arguments_are_usage_errors():
    proc = run_app("--epochs", "0", timeout=60)
    assert proc.returncode == 2 and "--epochs must be >= 1" in proc.stderr


def test_eval_test_each_epoch_records_test_accuracy_per_epoch(tmp_path, data_dir):
    """Benchmark-only flag: each epoch row gets test_accuracy and the cumulative train_seconds (evaluations excluded)."""
    out = tmp_path / "out"
    proc = run_app(
        "--data", str(data_dir / "tiny.npz"), "--output-dir", str(out), "--epochs", "2", "--train-limit", "300",
        "--batch-size", "64", "--eval-test-each-epoch",
        env={"MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rows)
    assert 0 < rows[0]["train_seconds"] < rows[1]["train_seconds"] <= metrics["train_seconds"] + 0.01
    assert rows[-1]["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
