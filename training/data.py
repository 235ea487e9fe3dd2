"""MNIST for training/app.py: a keras mnist.npz or a folder of the four IDX files -> checked arrays, their fingerprint,
and the train / validation / test splits the model sees.

numpy only (no TensorFlow), so a missing or malformed data set fails in a second with one line naming the path.
It uploads with the training folder: app.py imports it as `data` (run as `python app.py` from training/ or as
`python training/app.py`; the script's own folder is first on sys.path either way).
"""

from __future__ import annotations

import gzip
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIDE = 28
NUM_CLASSES = 10
PIXEL_MAX = 255  # uint8 pixels are divided by this: model input = pixel * (1 / PIXEL_MAX), in [0, 1]
VALIDATION_SPLIT_SEED = 0  # fixed: the held-out images do not change with --seed
KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(Exception):
    """A missing or malformed data set: reported as one line naming the path, exit code 1."""


# ---------------------------------------------------------------------------------------------------------------
# Reading: keras mnist.npz or IDX files -> checked arrays
# ---------------------------------------------------------------------------------------------------------------


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one IDX file (http://yann.lecun.com/exdb/mnist/): magic 0x0000 08 <ndim>, big-endian sizes, uint8 data."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as ex:
        raise DataError(f"{path}: cannot read ({ex})") from None
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != ndim:
        raise DataError(
            f"{path}: bad IDX magic number {raw[:4].hex() or '(empty file)'}, expected 000008{ndim:02x} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header says {dims} = {expected} bytes of data, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, name in IDX_FILES.items():
        found = [folder / n for n in (name, name + ".gz") if (folder / n).is_file()]
        if not found:
            raise DataError(f"{folder}: missing {name} or {name}.gz (an IDX data folder needs the 4 MNIST files)")
        arrays[key] = read_idx(found[0], 3 if key.startswith("x") else 1)
    return arrays


def load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise DataError(f"{path}: is a single .npy array, expected an .npz archive with {', '.join(KEYS)}")
            missing = [k for k in KEYS if k not in npz.files]
            if missing:
                has = ", ".join(npz.files) or "none"
                raise DataError(f"{path}: missing array(s) {', '.join(missing)} (has: {has})")
            return {k: npz[k] for k in KEYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as ex:
        raise DataError(f"{path}: not a readable keras mnist.npz file ({type(ex).__name__}: {ex})") from None


def check_images(x: np.ndarray, name: str, source: str) -> np.ndarray:
    """(N, 28, 28), (N, 784) or (N, 28, 28, 1) -> (N, 28, 28) uint8 (0..255) or float32 (0..1); else DataError."""
    if x.ndim == 2 and x.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        x = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{source}: {name} has shape {x.shape}, expected (N, 28, 28) or (N, 784)")
    if len(x) == 0:
        raise DataError(f"{source}: {name} is empty")
    if x.dtype.kind in "iu":
        if x.min() < 0 or x.max() > PIXEL_MAX:
            raise DataError(f"{source}: {name} integer pixels must be 0..255, got {x.min()}..{x.max()}")
        return np.ascontiguousarray(x.astype(np.uint8, copy=False))
    if x.dtype.kind == "f":
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise DataError(f"{source}: {name} float pixels must be finite and in [0, 1], "
                            f"got {np.nanmin(x)}..{np.nanmax(x)}")
        return np.ascontiguousarray(x.astype(np.float32, copy=False))
    raise DataError(f"{source}: {name} has dtype {x.dtype}, expected uint8 0..255 or float 0..1")


def check_labels(y: np.ndarray, name: str, count: int, source: str) -> np.ndarray:
    """(N,) integers 0..9 or (N, 10) one-hot -> (N,) uint8; else DataError."""
    if y.ndim == 2 and y.shape[1] == NUM_CLASSES:  # one-hot labels
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != count:
        raise DataError(f"{source}: {name} has shape {y.shape}, expected ({count},) to match x_{name[2:]}")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= NUM_CLASSES:
        raise DataError(f"{source}: {name} must hold integer labels 0..9 (dtype {y.dtype}, "
                        f"range {y.min()}..{y.max()})")
    return np.ascontiguousarray(y.astype(np.uint8))


def check_arrays(arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Images -> (N, 28, 28) uint8 (0..255) or float32 (0..1); labels -> (N,) uint8 0..9; else raise DataError."""
    out = {}
    for part in ("train", "test"):
        x = check_images(arrays[f"x_{part}"], f"x_{part}", source)
        out[f"x_{part}"], out[f"y_{part}"] = x, check_labels(arrays[f"y_{part}"], f"y_{part}", len(x), source)
    return out


def load_data(path: Path | None) -> tuple[dict[str, np.ndarray], str]:
    """The checked arrays (KEYS) and where they came from; without a path, keras' own download of mnist.npz."""
    if path is None:
        import keras

        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as ex:  # network, proxy, corrupt cache: one clear line instead of a traceback
            raise DataError(f"keras.datasets.mnist.load_data() failed ({type(ex).__name__}: {ex}); "
                            "pass --data with a local mnist.npz or IDX folder") from None
        raw, source = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test), "keras.datasets.mnist"
    elif path.is_dir():
        raw, source = load_idx_folder(path), str(path)
    elif path.is_file():
        raw, source = load_npz(path), str(path)
    else:
        raise DataError(f"{path}: no such file or folder (expected mnist.npz or a folder of IDX files)")
    return check_arrays(raw, source), source


def fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the raw bytes of x_train, y_train, x_test, y_test (uint8 images/labels for the usual data)."""
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Splits: what the model sees
# ---------------------------------------------------------------------------------------------------------------


def to_model_input(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) pixels -> (N, 28, 28, 1) float32 in [0, 1] (uint8 pixels are divided by PIXEL_MAX)."""
    x = x.astype(np.float32) / float(PIXEL_MAX) if x.dtype == np.uint8 else x.astype(np.float32)
    return x[..., None]


@dataclass(frozen=True)
class Splits:
    """Model inputs (N, 28, 28, 1) float32 and integer labels, plus where the data came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str


def split(arrays: dict[str, np.ndarray], source: str, validation_fraction: float,
          train_limit: int | None = None) -> Splits:
    """Holds out `validation_fraction` of the (first `train_limit`) training images with a fixed permutation
    (independent of --seed); the test split stays as it is. The fingerprint covers all the data, before the limit."""
    x_all, y_all = arrays["x_train"], arrays["y_train"]
    if train_limit:
        x_all, y_all = x_all[:train_limit], y_all[:train_limit]
    order = np.random.default_rng(VALIDATION_SPLIT_SEED).permutation(len(x_all))
    n_val = max(1, int(round(len(x_all) * validation_fraction)))
    if len(x_all) - n_val < 1:
        raise DataError(f"{source}: only {len(x_all)} training images, need at least 2")
    val_idx, train_idx = order[:n_val], order[n_val:]
    return Splits(
        x_train=to_model_input(x_all[train_idx]), y_train=y_all[train_idx],
        x_val=to_model_input(x_all[val_idx]), y_val=y_all[val_idx],
        x_test=to_model_input(arrays["x_test"]), y_test=arrays["y_test"],
        source=source, sha256=fingerprint(arrays),
    )
