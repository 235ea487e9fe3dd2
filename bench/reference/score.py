# Reference scoring script, written the way the common Azure ML Keras samples do it:
# json.loads, np.array, model.predict on every request. The benchmark serves it side by side
# with scoring/score.py through the same azmlinfsrv to measure what our script gains.
import glob
import json
import os

import keras
import numpy as np


def init():
    global model
    model_dir = os.getenv("AZUREML_MODEL_DIR")
    model_path = glob.glob(os.path.join(model_dir, "**", "*.keras"), recursive=True)[0]
    model = keras.models.load_model(model_path)


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    data = data.reshape(-1, 28, 28, 1)
    y_hat = model.predict(data)
    return {"predictions": np.argmax(y_hat, axis=1).tolist(), "probabilities": y_hat.tolist()}
