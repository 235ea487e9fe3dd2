"""A model saved by an older Keras 3 loads in ours and predicts the same: the curated training environment's path.

The stack can still train in a curated Azure ML environment (`tensorflow-2.16-cuda12`: TensorFlow 2.16.2, which
requires only `keras>=3.0.0`, with a Keras pinned per revision, 3.9.0 and 3.12.1 seen, and the pin not readable from
source), while scoring/score.py loads a .keras model with the Keras 3.15.1 of training/requirements.txt. So for each
older Keras 3 in OLD_KERAS, tests/python/old_keras_save.py makes that Keras build and compile training/app.py's own
model (build_model/compile_model), give it the weights of the session's trained model, save `.keras` and predict the
20 sample digits; this process loads the file the way score.py does and must give the same classes, and probabilities
within 1e-5.

The old Keras runs on the JAX backend in a venv without TensorFlow (far too big to install for a test; Keras'
numpy backend imports JAX for convolutions anyway): the `.keras` format is the same whichever backend writes it. The
venv (numpy<2 as TensorFlow 2.16 requires; one shared JAX) and one `--target` folder per Keras version are cached
under .local/keras-compat/, keyed by the pins: the first run installs them from PyPI (~10-20 s), later runs reuse
them. Without PyPI and without that cache the test is skipped, saying so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

OLD_KERAS = (
    "3.0.5",  # the newest Keras when TensorFlow 2.16.1 came out (2024-03-09); TF 2.16 requires keras>=3.0.0, no cap
    "3.3.3",  # the newest from April to June 2024
    "3.9.0",  # pinned by a revision of the curated tensorflow-2.16-cuda12 environment
    "3.12.1",  # pinned by a later revision of it
)
# The old side's venv: one JAX for every Keras above, numpy<2 like TensorFlow 2.16, and the union of those Kerases'
# dependencies (each Keras itself goes into its own folder with --no-deps).
OLD_ENV_PINS = (
    "jax[cpu]==0.4.30",
    "jaxlib==0.4.30",
    "numpy==1.26.4",
    "scipy==1.17.1",
    "ml-dtypes==0.5.4",
    "h5py==3.16.0",
    "absl-py==2.5.1",
    "rich==15.0.0",
    "namex==0.1.0",
    "optree==0.20.0",
    "packaging==26.4",
    "dm-tree==0.1.10",  # Keras 3.0.x
)
# Heavy tier (npm run test:full): a second venv and one model build per old Keras.
pytestmark = pytest.mark.slow
CACHE = ROOT / ".local" / "keras-compat"
SAVER = Path(__file__).with_name("old_keras_save.py")
TOLERANCE = 1e-5


def pypi_unreachable() -> str | None:
    """Why PyPI (or PIP_INDEX_URL) cannot be reached, or None when it can."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/keras/", timeout=15) as resp:
            resp.read(1)
        return None
    except OSError as ex:
        return f"{index}: {ex}"


def pip(python: Path, *args: str) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def cached(path: Path, build) -> Path:
    """`path`, built once by `build(tmp)` into a temporary sibling and renamed into place (an interrupted build never
    looks complete); concurrent test runs wait on a lock instead of building twice."""
    if path.is_dir():
        return path
    reason = pypi_unreachable()
    if reason:
        # CI: a missing prerequisite is a failure, never a silent skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"PyPI unreachable and no cached old-Keras environment in {path.relative_to(ROOT)} ({reason})")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_dir():
            tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            build(tmp)
            tmp.rename(path)
    return path


@pytest.fixture(scope="module")
def old_env() -> Path:
    """The cached venv's python (JAX, numpy<2, Keras' dependencies; no Keras, no TensorFlow)."""
    key = hashlib.sha256(json.dumps([sys.version_info[:2], OLD_ENV_PINS]).encode()).hexdigest()[:12]

    def build(tmp: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True, timeout=300)
        pip(tmp / "bin" / "python", *OLD_ENV_PINS)

    return cached(CACHE / f"venv-py{sys.version_info[0]}{sys.version_info[1]}-{key}", build) / "bin" / "python"


def old_keras(python: Path, version: str) -> Path:
    """A folder holding only keras==version (for PYTHONPATH), cached next to the venv."""
    return cached(python.parents[1].with_name(python.parents[1].name + f"-keras-{version}"),
                  lambda tmp: pip(python, "--no-deps", "--target", str(tmp), f"keras=={version}"))


@pytest.fixture(scope="module")
def trained_weights(trained, tmp_path_factory) -> dict:
    """The session model's trained layers as an npz, its model_meta.json, and its own probabilities for the samples."""
    import keras

    meta_path = trained["dir"] / "model_meta.json"
    model = keras.saving.load_model(trained["dir"] / json.loads(meta_path.read_text())["model_file"], compile=False)
    arrays = {f"{layer.name}/{i}": w for layer in model.layers for i, w in enumerate(layer.get_weights())}
    path = tmp_path_factory.mktemp("weights") / "trained.npz"
    np.savez(path, **arrays)
    return {"meta": meta_path, "npz": path, "probabilities": predict(model)}


def sample_images() -> np.ndarray:
    data = json.loads((ROOT / "scoring" / "sample-request.json").read_text())["data"]
    return np.asarray(data, np.float32).reshape(-1, 28, 28, 1)


def predict(model) -> np.ndarray:
    """Like score.py: the forward pass with training=False."""
    import keras

    return keras.ops.convert_to_numpy(model(sample_images(), training=False)).astype(np.float64)


@pytest.mark.parametrize("version", OLD_KERAS)
def test_a_model_saved_by_an_older_keras_predicts_the_same_in_ours(version, old_env, trained_weights, tmp_path,
                                                                   sample_labels):
    import keras

    keras_dir = old_keras(old_env, version)
    out = tmp_path / "old"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({"PYTHONPATH": str(keras_dir), "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
                "KERAS_HOME": str(tmp_path / "keras-home")})  # the old Keras writes keras.json there, not in ~/.keras
    proc = subprocess.run([str(old_env), str(SAVER), str(trained_weights["meta"]), str(trained_weights["npz"]),
                           str(ROOT / "scoring" / "sample-request.json"), str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, f"Keras {version} could not build/save app.py's model:\n{proc.stderr[-4000:]}"
    old = json.loads((out / "old_predictions.json").read_text())
    assert (old["keras"], old["backend"]) == (version, "jax")
    with zipfile.ZipFile(out / "mnist_cnn.keras") as archive:  # the file itself says which Keras wrote it
        assert json.loads(archive.read("metadata.json"))["keras_version"] == version

    # Loaded the way scoring/score.py loads a .keras file, by this venv's Keras (training/requirements.txt's pin).
    assert keras.__version__ == "3.15.1"
    model = keras.saving.load_model(out / "mnist_cnn.keras", compile=False)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    ours, theirs = predict(model), np.asarray(old["probabilities"])
    assert ours.shape == theirs.shape == (20, 10)
    assert (ours.argmax(1) == theirs.argmax(1)).all(), f"classes differ: {ours.argmax(1)} vs {theirs.argmax(1)}"
    assert np.abs(ours - theirs).max() <= TOLERANCE
    # ... and it is the trained model: the same answers as the file our own Keras saved.
    assert np.abs(ours - trained_weights["probabilities"]).max() <= TOLERANCE
    assert (ours.argmax(1) == trained_weights["probabilities"].argmax(1)).all()
    print(f"Keras {version} -> 3.15.1: max |dp| {np.abs(ours - theirs).max():.1e}, "
          f"{int((ours.argmax(1) == np.asarray(sample_labels)).sum())}/20 sample digits right")

    # The whole file loads too (optimizer with the one-cycle schedule, label-smoothed loss), e.g. to train on.
    full = keras.saving.load_model(out / "mnist_cnn.keras")
    hp = json.loads(trained_weights["meta"].read_text())["hyperparameters"]
    assert full.loss.label_smoothing == hp["label_smoothing"]
    assert full.optimizer.get_config()["learning_rate"]["config"]["warmup_target"] == pytest.approx(hp["learning_rate"])
