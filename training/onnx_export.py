"""The ONNX copy of the trained model, written beside mnist_cnn.keras: what scoring/score.py serves with ONNX Runtime
(no TensorFlow in the inference environment).

Exporter: Keras 3's own `model.export(path, format="onnx")`. On the TensorFlow backend it converts through tf2onnx
(Keras imports tf2onnx and onnx lazily; tf2onnx 1.17.0 and onnx 1.23.2 work with TensorFlow 2.21, numpy 2.4 and
protobuf 7, `pip check` clean). tf2onnx's default opset is 15; the input keeps the name `image` and a free batch
dimension, NHWC like the Keras model; the output is the 10 softmax probabilities.

Two Keras details the export works around (both measured with Keras 3.15.1):
- export traces the model's call without a `training` argument, and Keras' image-augmentation layers default to
  training=True: RandomTranslation would be exported as random ops (StatelessRandomUniformV2,
  ImageProjectiveTransformV3) that tf2onnx leaves unconverted *without raising*; the file then fails onnx.checker and
  ONNX Runtime refuses to load it (INVALID_GRAPH). So the model is wrapped in a functional model that calls it with
  training=False (the shifts and dropout become identities, as in model.predict); the weights are the same.
- export refuses a model that has never been called ("The model provided has never called."): the wrapper is called
  once on a black image first.

Nothing is trusted blindly: ONNX Runtime must load the file and give, on the images passed in (the test split), the
same classes as the Keras model and probabilities within 1e-5 (both on the CPU), else ExportError and no file.

Without tf2onnx, onnx or onnxruntime (a curated training environment, which has none of them) the export is skipped
with a warning: the folder then has only mnist_cnn.keras, which score.py serves only where TensorFlow is installed.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5  # max |p_keras - p_onnx| over the checked images (and identical predicted classes)


class ExportError(RuntimeError):
    """The ONNX file would not serve the same answers as the .keras file."""


def export_onnx(keras_file: Path, onnx_file: Path, images: np.ndarray) -> dict:
    """Exports the saved `keras_file` to `onnx_file` and checks it on `images` ((N, 28, 28, 1) float32 in [0, 1]);
    returns what model_meta.json records under "onnx"."""
    try:
        import onnx  # noqa: F401  (Keras' exporter imports tf2onnx and onnx itself)
        import onnxruntime as ort
        import tf2onnx  # noqa: F401
    except ImportError as ex:
        print(f"onnx: WARNING: no {onnx_file.name}: {ex.name} is not installed (a curated training environment?); "
              "serving this model needs TensorFlow and Keras in the inference environment", flush=True)
        return {"file": None, "skipped": f"{ex.name} is not installed"}
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    partial = onnx_file.with_name(onnx_file.name + ".partial")
    with tf.device("/CPU:0"):  # the reference probabilities on the CPU, like ONNX Runtime (no GPU TF32 rounding)
        model = keras.saving.load_model(keras_file, compile=False)  # what gets registered, outside any strategy
        image = keras.Input(model.input_shape[1:], name="image")
        inference = keras.Model(image, model(image, training=False), name=f"{model.name}_inference")
        inference(np.zeros((1, *model.input_shape[1:]), np.float32))
        with warnings.catch_warnings():  # Keras' numpy-2 shim for tf2onnx probes np.object (a FutureWarning)
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            inference.export(str(partial), format="onnx", verbose=False)
        expected = inference.predict(images, batch_size=500, verbose=0)

    try:
        session = ort.InferenceSession(str(partial), providers=["CPUExecutionProvider"])
        (model_input,) = session.get_inputs()
        got = np.concatenate([session.run(None, {model_input.name: images[i:i + 500]})[0]
                              for i in range(0, len(images), 500)])
    except Exception as ex:  # onnxruntime raises its own exception types (e.g. InvalidGraph)
        partial.unlink(missing_ok=True)
        raise ExportError(f"{onnx_file.name}: ONNX Runtime cannot run the exported model: {ex}") from None
    difference = float(np.abs(expected - got).max())
    same = bool((expected.argmax(axis=1) == got.argmax(axis=1)).all())
    if not same or difference > TOLERANCE:
        partial.unlink(missing_ok=True)
        raise ExportError(f"{onnx_file.name}: ONNX Runtime and Keras disagree on {len(images)} images "
                          f"(max |p_keras - p_onnx| = {difference:.1e}, same predictions: {same})")
    os.replace(partial, onnx_file)
    opset = next(o.version for o in onnx.load(str(onnx_file)).opset_import if o.domain in ("", "ai.onnx"))
    print(f"onnx: {onnx_file.name} ({onnx_file.stat().st_size // 1024} KB, opset {opset}) in "
          f"{time.perf_counter() - started:.1f} s; ONNX Runtime matches Keras on {len(images)} test images "
          f"(max |p_keras - p_onnx| {difference:.1e})", flush=True)
    return {
        "file": onnx_file.name,
        "opset": opset,
        "exporter": f"keras {keras.__version__} Model.export(format='onnx')",
        "checked_images": len(images),
        "max_abs_difference": difference,
        "same_predictions": same,
        "onnxruntime": ort.__version__,
    }
