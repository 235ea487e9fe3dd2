"""Azure ML online-endpoint scoring script for the MNIST CNN (entry script of azureml-inference-server-http).

Request:  {"data": [image, ...]}, image = 784 numbers (row-major 28x28), 28 lists of 28 numbers, or 28x28x1 (the
          model's own input shape, channel last), values in [0, 1].
Response: {"predictions": [int, ...], "probabilities": [[10 floats], ...]} (same order as the images).
Errors:   any malformed request -> HTTP 400 {"error": "<what is wrong, where>"}; the server keeps serving.
Schema:   swagger2.json, swagger3.json and swagger3.1.json beside this file (Azure ML serves them at /swagger.json from
          the root of the code folder); schema.py writes them from this file's constants and sample-request.json.

Environment: AZUREML_MODEL_DIR (set by the server / Azure: the first *.keras file below it is loaded),
MAX_BATCH_SIZE (default 256 images per request), MAX_BODY_BYTES (default 16 MiB).

Speed: the body is parsed once with json.loads, converted with one np.asarray and validated with vectorised numpy
checks; the model runs through one tf.function (traced once for any batch size, warmed up in init()).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

try:  # the real server's response class (returned as-is by the server, so the status code is kept)
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # pragma: no cover - lets unit tests import this file without the server package

    class AMLResponse:  # type: ignore[no-redef]
        """Minimal stand-in with the same constructor and the attributes tests read."""

        def __init__(self, message, status_code, response_headers=None, json_str=False, run_function_failed=False):
            self.status_code = status_code
            self.message = message

        def get_json(self):
            return self.message


logger = logging.getLogger("score")

IMAGE_SIDE = 28
IMAGE_SIZE = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
# The accepted layouts of one image; anything else (e.g. channels first, 1x28x28) is refused as ambiguous.
IMAGE_SHAPES = ((IMAGE_SIZE,), (IMAGE_SIDE, IMAGE_SIDE), (IMAGE_SIDE, IMAGE_SIDE, 1))
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

model = None
_forward = None
MAX_BATCH_SIZE = DEFAULT_MAX_BATCH_SIZE
MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES


class RequestError(ValueError):
    """A client error: becomes HTTP 400 {"error": message}."""


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name}={raw!r} is not an integer") from None
    if value < 1:
        raise RuntimeError(f"{name}={raw!r} must be >= 1")
    return value


def find_model_file(model_dir: str | os.PathLike) -> Path:
    """Azure nests the registered folder (e.g. <AZUREML_MODEL_DIR>/<folder>/mnist_cnn.keras): search recursively."""
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"AZUREML_MODEL_DIR={str(root)!r} is not a directory")
    candidates = sorted(root.rglob("*.keras"), key=lambda p: (len(p.parts), str(p)))
    if not candidates:
        listing = ", ".join(str(p.relative_to(root)) for p in sorted(root.rglob("*"))[:50]) or "(empty)"
        raise FileNotFoundError(f"no *.keras model file below {root}; found: {listing}")
    return candidates[0]


def init() -> None:
    """Called once per worker process: load the model and warm the compiled forward pass up."""
    global model, _forward, MAX_BATCH_SIZE, MAX_BODY_BYTES
    import keras
    import tensorflow as tf

    MAX_BATCH_SIZE = _positive_int_env("MAX_BATCH_SIZE", DEFAULT_MAX_BATCH_SIZE)
    MAX_BODY_BYTES = _positive_int_env("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    started = time.perf_counter()
    path = find_model_file(os.environ.get("AZUREML_MODEL_DIR", "."))
    model = keras.saving.load_model(path, compile=False)
    expected = (None, IMAGE_SIDE, IMAGE_SIDE, 1)
    if tuple(model.input_shape) != expected or tuple(model.output_shape) != (None, NUM_CLASSES):
        raise RuntimeError(
            f"{path}: model maps {model.input_shape} -> {model.output_shape}, expected {expected} -> (None, 10)"
        )

    # One trace serves every batch size; model.predict() would cost ~10x more per small request.
    def forward(x):
        return model(x, training=False)

    _forward = tf.function(
        forward, input_signature=[tf.TensorSpec([None, IMAGE_SIDE, IMAGE_SIDE, 1], tf.float32)], autograph=False
    )
    for batch in sorted({1, 8, min(64, MAX_BATCH_SIZE), MAX_BATCH_SIZE}):
        _forward(np.zeros((batch, IMAGE_SIDE, IMAGE_SIDE, 1), np.float32))
    logger.info(
        "loaded %s in %.1f s (MAX_BATCH_SIZE=%d, MAX_BODY_BYTES=%d)",
        path, time.perf_counter() - started, MAX_BATCH_SIZE, MAX_BODY_BYTES,
    )
    if MAX_BATCH_SIZE != DEFAULT_MAX_BATCH_SIZE:
        logger.info(
            "MAX_BATCH_SIZE=%d: the shipped swagger*.json state the default limit of %d images per request",
            MAX_BATCH_SIZE, DEFAULT_MAX_BATCH_SIZE,
        )


# --- request validation ------------------------------------------------------------------------------------------


def _type_name(value) -> str:
    return {bool: "boolean", str: "string", dict: "object", list: "list", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _first_bad_scalar(value, where: str):
    """Slow path (errors only): the first element that is not an int/float number, as 'where[i][j]: ... got X'."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return f"{path}: expected a number, got {_type_name(item)} {json.dumps(item)[:40]}"
    return None


def _describe_shape(arr: np.ndarray) -> str:
    if arr.ndim == 1:
        return f"{arr.shape[0]} values"
    return "x".join(str(d) for d in arr.shape)


def _image(index: int, img) -> np.ndarray:
    """Slow path, one image at a time: convert and give a precise error for data[index]."""
    where = f"data[{index}]"
    if not isinstance(img, list):
        raise RequestError(
            f"{where}: expected a list of 784 numbers or 28x28 (or 28x28x1) nested lists, got {_type_name(img)}"
        )
    try:
        arr = np.asarray(img)
    except (ValueError, TypeError, OverflowError):
        bad = _first_bad_scalar(img, where)
        raise RequestError(bad or f"{where}: ragged nested lists (rows of different lengths)") from None
    if arr.dtype.kind not in "iuf":
        bad = _first_bad_scalar(img, where)
        raise RequestError(bad or f"{where}: expected numbers")
    if arr.shape in IMAGE_SHAPES:
        return arr.reshape(IMAGE_SIDE, IMAGE_SIDE)
    raise RequestError(
        f"{where}: expected 784 values or 28x28, got {_describe_shape(arr)} (28x28x1, channel last, is accepted too)"
    )


def parse_request(raw_data) -> np.ndarray:
    """Body (str/bytes) -> float32 array (n, 28, 28, 1) in [0, 1]; raises RequestError with a precise message."""
    if isinstance(raw_data, (bytes, bytearray)):
        raw_data = bytes(raw_data).decode("utf-8", errors="strict")
    if not isinstance(raw_data, str):
        raise RequestError(f"expected a JSON request body, got {_type_name(raw_data)}")
    if len(raw_data) > MAX_BODY_BYTES:
        raise RequestError(f"request body is {len(raw_data)} bytes; the limit is MAX_BODY_BYTES={MAX_BODY_BYTES}")
    try:
        body = json.loads(raw_data)
    except RecursionError:
        raise RequestError("request body: JSON nested too deeply") from None
    except ValueError as ex:
        raise RequestError(f"request body is not valid JSON: {ex}") from None
    if not isinstance(body, dict):
        raise RequestError(f'request body: expected a JSON object {{"data": [...]}}, got {_type_name(body)}')
    if "data" not in body:
        raise RequestError('request body: missing key "data" (expected {"data": [image, ...]})')
    data = body["data"]
    if not isinstance(data, list):
        raise RequestError(f"data: expected a list of images, got {_type_name(data)}")
    if not data:
        raise RequestError("data: empty batch (expected at least 1 image)")
    if len(data) > MAX_BATCH_SIZE:
        raise RequestError(f"data: {len(data)} images; the limit is MAX_BATCH_SIZE={MAX_BATCH_SIZE}")

    # Fast path: the whole batch in one conversion (numeric dtype and a regular shape).
    try:
        batch = np.asarray(data)
    except (ValueError, TypeError, OverflowError):  # ragged, mixed layouts, huge ints: find out per image
        batch = None
    if batch is None or batch.dtype.kind not in "iuf" or batch.shape[1:] not in IMAGE_SHAPES:
        batch = np.stack([_image(i, img) for i, img in enumerate(data)])
    # JSON true/false would be coerced to 1/0 by numpy: rule them out (a text scan first, the walk only if needed).
    if ("true" in raw_data or "false" in raw_data) and (bad := _first_bad_scalar(data, "data")):
        raise RequestError(bad)

    batch = batch.reshape(len(data), IMAGE_SIDE, IMAGE_SIDE, 1)
    flat = batch.reshape(len(data), -1)
    finite = np.isfinite(flat)
    if not finite.all():
        i = int(np.argmin(finite.all(axis=1)))
        raise RequestError(f"data[{i}]: values must be finite numbers in [0, 1], got NaN or Infinity")
    in_range = (flat >= 0) & (flat <= 1)
    if not in_range.all():
        i = int(np.argmin(in_range.all(axis=1)))
        raise RequestError(
            f"data[{i}]: values must be in [0, 1] (scale 0..255 pixels by 1/255), "
            f"got min {float(flat[i].min()):g}, max {float(flat[i].max()):g}"
        )
    return batch.astype(np.float32, copy=False)


def predict(batch: np.ndarray) -> dict:
    probs = np.asarray(_forward(batch), dtype=np.float64)
    return {
        "predictions": probs.argmax(axis=1).tolist(),
        "probabilities": np.round(probs, 6).tolist(),
    }


def run(raw_data):
    """Called per request with the body string.

    Not decorated with inference-schema on purpose: a decorated run() makes the server parse the body itself and answer
    bad input with its own {"message": ...} errors, losing the precise 400s above. The schema is shipped as files.
    """
    if _forward is None:
        raise RuntimeError("init() has not loaded a model")
    try:
        batch = parse_request(raw_data)
    except (RequestError, UnicodeDecodeError) as ex:
        logger.info("400: %s", ex)
        return AMLResponse({"error": str(ex)}, 400, json_str=True)
    return predict(batch)
