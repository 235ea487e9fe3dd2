"""Runs under an OLDER Keras 3 (test_keras_compat.py's cached venv, JAX backend, no TensorFlow): builds and compiles
training/app.py's own model, gives it the weights of a model the project's Keras trained, saves it as .keras and writes
its probabilities for the 20 sample digits.

    python old_keras_save.py MODEL_META.json WEIGHTS.npz SAMPLE_REQUEST.json OUT_DIR

Writes OUT_DIR/mnist_cnn.keras and OUT_DIR/old_predictions.json ({"keras", "backend", "probabilities"}).
Not collected by pytest (no test_ prefix); standard library, numpy and keras only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))
import app  # noqa: E402  (imports numpy and data.py only; keras is imported inside build_model/compile_model)

TRAINED_LAYERS = ("conv1", "conv2", "conv3", "probabilities")


def main(meta_path: str, weights_path: str, sample_path: str, out_dir: str) -> None:
    import keras

    meta = json.loads(Path(meta_path).read_text())
    hp = app.Hyperparameters(**meta["hyperparameters"])
    model = app.compile_model(app.build_model(hp), hp, meta["data"]["train_images"])
    with np.load(weights_path) as weights:
        for name in TRAINED_LAYERS:
            layer = model.get_layer(name)
            layer.set_weights([weights[f"{name}/{i}"] for i in range(len(layer.weights))])
    model.optimizer.build(model.trainable_variables)  # a trained model's file holds the optimizer's variables too

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "mnist_cnn.keras")
    images = np.asarray(json.loads(Path(sample_path).read_text())["data"], np.float32).reshape(-1, 28, 28, 1)
    probabilities = keras.ops.convert_to_numpy(model(images, training=False))
    (out / "old_predictions.json").write_text(json.dumps({
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "probabilities": probabilities.astype(float).tolist(),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
