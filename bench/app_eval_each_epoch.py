"""training/app.py plus a test-split evaluation after every epoch: what bench/training.py runs as "ours".

    python bench/app_eval_each_epoch.py [training/app.py's flags]

Runs app.py's main with one more Keras callback (after app.py's epoch logger). After each epoch it evaluates the test
split and adds to that epoch's row in metrics.json `test_accuracy` and `train_seconds` (wall time since training began,
minus the time spent in these evaluations); metrics.json's and MLflow's total `train_seconds` leave them out too.
Nothing reads them for model selection or stopping: the trained model is the one app.py trains with the same flags.
"""

from __future__ import annotations

import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "training"))
import app  # noqa: E402


def eval_each_epoch(splits, epoch_logger) -> list:
    import keras

    x_test, y_test = splits.x_test, app.one_hot(splits.y_test)

    class EvalEachEpoch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.train_began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            eval_started = time.perf_counter()
            row = epoch_logger.rows[-1]
            row["train_seconds"] = round(eval_started - self.train_began - epoch_logger.excluded_seconds, 3)
            _, accuracy = self.model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
            row["test_accuracy"] = float(accuracy)
            epoch_logger.excluded_seconds += time.perf_counter() - eval_started
            print(f"  test acc {row['test_accuracy']:.4f} at {row['train_seconds']:.1f} s", flush=True)

    return [EvalEachEpoch()]


if __name__ == "__main__":
    sys.exit(app.main(extra_callbacks=eval_each_epoch))
