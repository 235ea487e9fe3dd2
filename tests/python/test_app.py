"""training/app.py: artifacts, model_meta.json against the saved model, MLflow metrics, clear errors for bad data."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data as mnist
from conftest import APP, TRAIN_LIMIT, run_app

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
    expected = hashlib.sha256(b"".join(mnist_arrays[k].tobytes() for k in mnist.KEYS)).hexdigest()
    assert meta["data"]["sha256"] == expected


def test_model_meta_matches_the_trained_model(trained):
    """model_meta.json records the hyperparameters the saved model was built and compiled with."""
    import keras

    meta = json.loads((trained["dir"] / "model_meta.json").read_text())
    hp = meta["hyperparameters"]
    model = keras.saving.load_model(trained["dir"] / meta["model_file"])
    shift = model.get_layer("random_shift")
    assert (shift.height_factor, shift.width_factor) == (hp["random_shift"], hp["random_shift"])
    assert model.get_layer("dropout").rate == hp["dropout"]
    assert model.loss.label_smoothing == hp["label_smoothing"]
    assert model.optimizer.name == hp["optimizer"]
    schedule = model.optimizer.get_config()["learning_rate"]["config"]
    assert schedule["warmup_target"] == pytest.approx(hp["learning_rate"])
    assert schedule["initial_learning_rate"] == pytest.approx(hp["learning_rate"] / 10)  # lr_schedule: from lr/10
    assert schedule["alpha"] == pytest.approx(1 / 100)  # ... cosine decay to lr/100
    assert "lr/10 " in hp["lr_schedule"] and hp["lr_schedule"].endswith("lr/100")
    steps = -(-meta["data"]["train_images"] // hp["batch_size"]) * hp["epochs"]
    assert schedule["warmup_steps"] == max(1, int(steps * 0.1)) and "over 10 % of steps" in hp["lr_schedule"]
    assert schedule["warmup_steps"] + schedule["decay_steps"] == steps == int(model.optimizer.iterations)
    assert meta["data"]["validation_images"] == round(TRAIN_LIMIT * hp["validation_fraction"])
    assert list(model.input_shape[1:]) == meta["input_shape"] and model.output_shape[1] == len(meta["class_labels"])


def test_runs_from_the_training_folder_too():
    """Azure ML runs `python app.py` in the uploaded training/ folder; data.py must import from there as well."""
    proc = subprocess.run([sys.executable, "app.py", "--help"], cwd=APP.parent, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--train-limit" in proc.stdout and "--eval-test-each-epoch" not in proc.stdout


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


def _logged_model(trained, tmp_path):
    """The run's MLflow model folder (runs:/<run>/model), downloaded from the session's store."""
    from mlflow.artifacts import download_artifacts

    meta = json.loads((trained["dir"] / "model_meta.json").read_text())
    uri = meta["mlflow_model"]["uri"]
    assert uri == f"runs:/{meta['mlflow_run_id']}/model"
    return Path(download_artifacts(uri, dst_path=str(tmp_path), tracking_uri=trained["tracking_uri"])), meta


def test_logs_the_mlflow_model_to_the_run(trained, tmp_path, monkeypatch, mnist_arrays):
    """The run leads to its model: model/ holds an MLflow model with the Keras model and its ONNX copy as flavors, a
    signature of (-1, 28, 28, 1) float32 images -> (-1, 10) probabilities, and an input example; MLflow's own
    loaders read both flavors and they agree with the saved model."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow.onnx
    import mlflow.pyfunc
    import onnxruntime as ort
    from mlflow.models import Model

    folder, meta = _logged_model(trained, tmp_path)
    assert meta["mlflow_model"]["artifact_uri"].endswith(f"{meta['mlflow_run_id']}/artifacts/model")
    mlmodel = Model.load(str(folder))
    assert {"keras", "onnx", "python_function"} <= set(mlmodel.flavors)
    assert mlmodel.flavors["onnx"]["data"] == "mnist_cnn.onnx"
    assert (folder / "mnist_cnn.onnx").read_bytes() == (trained["dir"] / "mnist_cnn.onnx").read_bytes()
    assert json.loads((folder / "model_meta.json").read_text()) == meta
    (image,) = mlmodel.signature.inputs.inputs
    (probabilities,) = mlmodel.signature.outputs.inputs
    assert (image.name, str(image.type), image.shape) == ("image", "float32", (-1, 28, 28, 1))
    assert (str(probabilities.type), probabilities.shape) == ("float32", (-1, 10))
    assert mlmodel.saved_input_example_info["type"] == "ndarray"
    example = np.asarray(json.loads((folder / mlmodel.saved_input_example_info["artifact_path"]).read_text()))
    assert example.shape == (2, 28, 28, 1) and 0 <= example.min() <= example.max() <= 1

    images = (mnist_arrays["x_test"][:50].astype(np.float32) / 255)[..., None]
    keras_probs = mlflow.pyfunc.load_model(str(folder)).predict(images)  # python_function: the Keras flavor
    session = mlflow.onnx.load_model(str(folder))  # the onnx flavor: an onnx.ModelProto
    onnx_probs = ort.InferenceSession(session.SerializeToString()).run(None, {"image": images})[0]
    assert keras_probs.shape == (50, 10)
    np.testing.assert_allclose(keras_probs, onnx_probs, atol=1e-5)


def test_score_py_serves_the_mlflow_model_folder(trained, tmp_path, monkeypatch, sample_request):
    """What the local registry's versions point at: score.py finds the ONNX copy in an MLflow model folder, or without
    it, the Keras model under data/; the answers are those of the training output folder."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from conftest import SCORE, load_module

    score = load_module("score_mlflow_layout", SCORE)
    folder, _ = _logged_model(trained, tmp_path)
    batch = score.parse_request(sample_request)
    expected = score._onnx_forward(score.find_model_file(trained["dir"]))(batch)
    assert score.find_model_file(folder) == folder / "mnist_cnn.onnx"
    np.testing.assert_allclose(score._onnx_forward(folder / "mnist_cnn.onnx")(batch), expected, atol=1e-6)
    (folder / "mnist_cnn.onnx").unlink()
    assert score.find_model_file(folder) == folder / "data" / "model.keras"
    np.testing.assert_allclose(score._keras_forward(folder / "data" / "model.keras")(batch), expected, atol=1e-5)


@pytest.mark.slow
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


def test_bad_arguments_are_usage_errors():
    proc = run_app("--epochs", "0", timeout=60)
    assert proc.returncode == 2 and "--epochs must be >= 1" in proc.stderr


