"""Azure ML online-endpoint scoring script for the MNIST CNN (entry script of azureml-inference-server-http).

Request:  {"data": [image, ...]}, image = 784 numbers (row-major 28x28), 28 lists of 28 numbers, or 28x28x1 (the
          model's own input shape, channel last), values in [0, 1].
Response: {"predictions": [int, ...], "probabilities": [[10 floats], ...]} (same order as the images).
Errors:   any malformed request -> HTTP 400 {"error": "<what is wrong, where>"}; the server keeps serving.
Schema:   swagger2.json, swagger3.json and swagger3.1.json beside this file (Azure ML serves them at /swagger.json from
          the root of the code folder); schema.py writes them from this file's constants and sample-request.json.

Model: below AZUREML_MODEL_DIR (set by the server / Azure), the first *.onnx file, served with ONNX Runtime (what
training/app.py exports beside mnist_cnn.keras; the inference environment, requirements.txt, has no TensorFlow);
without one, the first *.keras file, served with Keras on TensorFlow, which this script then imports and which must be
installed (the tensorflow-cpu and keras pins of training/requirements.txt). Same contract either way.
Environment: MAX_BATCH_SIZE (default 256 images per request), MAX_BODY_BYTES (default 16 MiB of UTF-8; inside the
          inference server a larger body is refused before it is read, see _refuse_oversized_bodies).

Speed: the body is parsed once (orjson when installed, else json), converted with one np.asarray and validated with
vectorised numpy checks; the model runs through one ONNX Runtime session or one tf.function (traced once for any
batch size), warmed up in init().
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

try:  # a C JSON parser, ~3x faster than json on arrays of numbers; json alone gives the same answers, slower
    import orjson
except ImportError:  # pragma: no cover - e.g. an older inference environment
    orjson = None

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


logger = logging.getLogger("azmlinfsrv.score")  # a child of the server's logger: its handlers and format

IMAGE_SIDE = 28
IMAGE_SIZE = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
# The accepted layouts of one image; anything else (e.g. channels first, 1x28x28) is refused as ambiguous.
IMAGE_SHAPES = ((IMAGE_SIZE,), (IMAGE_SIDE, IMAGE_SIDE), (IMAGE_SIDE, IMAGE_SIDE, 1))
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# ONNX Runtime runs a batch in chunks of at most this many images: its memory arena then keeps what 16 images need,
# ~9 MiB per worker (chunks of 64: ~16 MiB; one 256-image run: ~31 MiB more), for ~3 % more time per image.
ONNX_CHUNK = 16

_forward = None  # float32 (n, 28, 28, 1) -> probabilities (n, 10), set by init()
RUNTIME = None  # "onnxruntime" or "keras": what init() serves the model with
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
    """The first *.onnx file below model_dir, else the first *.keras file (shallowest first, then by name).

    Azure nests the registered folder (e.g. <AZUREML_MODEL_DIR>/<folder>/mnist_cnn.onnx): search recursively.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"AZUREML_MODEL_DIR={str(root)!r} is not a directory")
    for pattern in ("*.onnx", "*.keras"):
        candidates = sorted(root.rglob(pattern), key=lambda p: (len(p.parts), str(p)))
        if candidates:
            return candidates[0]
    listing = ", ".join(str(p.relative_to(root)) for p in sorted(root.rglob("*"))[:50]) or "(empty)"
    raise FileNotFoundError(f"no *.onnx or *.keras model file below {root}; found: {listing}")


def _check_shapes(path: Path, inputs, outputs) -> None:
    """The model must map (batch, 28, 28, 1) images to (batch, 10) probabilities."""
    expected = (IMAGE_SIDE, IMAGE_SIDE, 1)
    if tuple(inputs[1:]) != expected or tuple(outputs[1:]) != (NUM_CLASSES,):
        raise RuntimeError(f"{path}: model maps {inputs} -> {outputs}, expected (batch, 28, 28, 1) -> (batch, 10)")


def _onnx_forward(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread per worker: the server's workers each run one request at a time, so N workers use N cores. Measured
    # with 2 workers on 2 cores against a thread per core (idle threads sleeping): single-image p50 ~0.04 ms lower,
    # the same throughput under concurrent load, ~20 % fewer images/s for a lone batch of 64. ONNX Runtime's default
    # (a spinning thread per core in every worker) served 187 instead of 465 single images/s.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    _check_shapes(path, model_input.shape, session.get_outputs()[0].shape)
    name = model_input.name

    def forward(batch: np.ndarray) -> np.ndarray:
        return np.concatenate([session.run(None, {name: batch[i:i + ONNX_CHUNK]})[0]
                               for i in range(0, len(batch), ONNX_CHUNK)])

    return forward


def _keras_forward(path: Path):
    logger.warning(
        "%s: no *.onnx file beside it, so it is served with Keras on TensorFlow, which the inference environment "
        "(scoring/requirements.txt) does not install: it needs the tensorflow-cpu and keras pins of "
        "training/requirements.txt (or register the model folder with the mnist_cnn.onnx that training writes)",
        path,
    )
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        import keras
        import tensorflow as tf
    except ImportError as ex:
        raise RuntimeError(f"{path}: serving a .keras model needs keras and tensorflow: {ex}") from ex

    model = keras.saving.load_model(path, compile=False)
    _check_shapes(path, model.input_shape, model.output_shape)
    # One trace serves every batch size; model.predict() would cost ~10x more per small request.
    compiled = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, IMAGE_SIDE, IMAGE_SIDE, 1], tf.float32)],
        autograph=False,
    )
    return lambda batch: compiled(batch).numpy()


def _refuse_oversized_bodies() -> bool:
    """Makes the inference server refuse a body over MAX_BODY_BYTES before reading it; True when installed.

    azureml-inference-server-http (1.5.1, pinned in requirements.txt) reads the whole body (flask request.data) before
    run() sees it, and has no size setting of its own: a 1 GiB body took 2.3 GiB of a worker's memory to be refused.
    The server calls init() from its blueprint's register(), before the blueprint is registered on the Flask app, so
    hooks added to that blueprint now still apply (flask Blueprint.before_request / errorhandler):
      - a Content-Length over the limit gets the 400 below at once, and nothing of the body is read;
      - a body without Content-Length (chunked) is read through werkzeug's limit (flask >= 3.1: request.max_content_length
        per request). Werkzeug stops reading there without an error (its LimitedStream raises RequestEntityTooLarge only
        on a read past the limit, and request.data never makes one), so the limit is MAX_BODY_BYTES + 1: at most that
        much is read, and parse_request sees that it is over.
    Elsewhere (another server, the tests' plain import) run()'s own check in parse_request remains.
    """
    try:
        from flask import request
        from werkzeug.exceptions import RequestEntityTooLarge

        from azureml_inference_server_http.server import routes
    except ImportError:  # pragma: no cover - not running inside azureml-inference-server-http
        return False

    def before_reading_the_body():
        size = request.content_length
        if size is not None and size > MAX_BODY_BYTES:
            logger.info("400: %s (not read)", _too_large(size))
            return AMLResponse({"error": _too_large(size)}, 400, json_str=True)
        try:
            request.max_content_length = MAX_BODY_BYTES + 1
        except AttributeError:  # pragma: no cover - flask < 3.1: Content-Length bodies are still refused above
            pass
        return None

    def over_the_limit(_ex):
        logger.info("400: %s (stopped reading)", _too_large(None))
        return AMLResponse({"error": _too_large(None)}, 400, json_str=True)

    try:
        routes.main_blueprint.before_request(before_reading_the_body)
        routes.main_blueprint.register_error_handler(RequestEntityTooLarge, over_the_limit)
    except AssertionError:  # pragma: no cover - the blueprint was registered already (another server version)
        return False
    return True


def init() -> None:
    """Called once per worker process: load the model (ONNX Runtime, else Keras) and warm its forward pass up."""
    global _forward, RUNTIME, MAX_BATCH_SIZE, MAX_BODY_BYTES

    MAX_BATCH_SIZE = _positive_int_env("MAX_BATCH_SIZE", DEFAULT_MAX_BATCH_SIZE)
    MAX_BODY_BYTES = _positive_int_env("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    if not _refuse_oversized_bodies():
        logger.warning("bodies over MAX_BODY_BYTES are read before they are refused (no server hook)")
    started = time.perf_counter()
    path = find_model_file(os.environ.get("AZUREML_MODEL_DIR", "."))
    if path.suffix == ".onnx":
        _forward, RUNTIME = _onnx_forward(path), "onnxruntime"
    else:
        _forward, RUNTIME = _keras_forward(path), "keras"
    for batch in sorted({1, 8, min(64, MAX_BATCH_SIZE), MAX_BATCH_SIZE}):
        _forward(np.zeros((batch, IMAGE_SIDE, IMAGE_SIDE, 1), np.float32))
    logger.info(
        "loaded %s with %s in %.1f s (MAX_BATCH_SIZE=%d, MAX_BODY_BYTES=%d)",
        path, RUNTIME, time.perf_counter() - started, MAX_BATCH_SIZE, MAX_BODY_BYTES,
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


def _loads(raw: str):
    """json.loads, through orjson first when it is installed. orjson refuses some bodies that json accepts or explains
    (NaN/Infinity, integers beyond 64 bits, nesting deeper than 1024): json then decides, so every answer and every
    400 message is the same with or without orjson."""
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def _too_large(size: int | None) -> str:
    # MAX_BODY_BYTES + 1 is what a body cut at the limit shows (see _refuse_oversized_bodies): its size is unknown.
    what = f"{size} bytes" if size is not None and size > MAX_BODY_BYTES + 1 else f"more than {MAX_BODY_BYTES} bytes"
    return f"request body is {what}; the limit is MAX_BODY_BYTES={MAX_BODY_BYTES}"


def _check_body_size(raw_data) -> None:
    """MAX_BODY_BYTES counts UTF-8 bytes, not characters. For a str the character count is a lower bound, exact when
    the text is ASCII (str.isascii() reads a flag of the string: no scan); only other text is encoded to count."""
    if isinstance(raw_data, (bytes, bytearray)):
        size = len(raw_data)
    elif raw_data.isascii() or len(raw_data) > MAX_BODY_BYTES:
        size = len(raw_data) if raw_data.isascii() else None
    else:
        size = len(raw_data.encode("utf-8"))
    if size is None or size > MAX_BODY_BYTES:
        raise RequestError(_too_large(size))


def parse_request(raw_data) -> np.ndarray:
    """Body (str/bytes) -> float32 array (n, 28, 28, 1) in [0, 1]; raises RequestError with a precise message."""
    if isinstance(raw_data, (bytes, bytearray)):
        _check_body_size(raw_data)
        raw_data = bytes(raw_data).decode("utf-8", errors="strict")
    if not isinstance(raw_data, str):
        raise RequestError(f"expected a JSON request body, got {_type_name(raw_data)}")
    _check_body_size(raw_data)
    try:
        body = _loads(raw_data)
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
