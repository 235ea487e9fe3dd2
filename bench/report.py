"""Combines bench/out/training.json and bench/out/scoring.json into one table with the ratios (ours against the
references) and a second one for the serving footprint (the HTTP floor, the TensorFlow path, the ONNX path), the same
tables in Markdown, records the machine and the versions, writes bench/out/report.json.

    python bench/report.py [--out-dir bench/out] [--seconds N]

Exit status 1 when a result file is missing or one of its target checks failed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import sys
from datetime import datetime, timezone

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
from app import installed_version  # noqa: E402  (the same lookup app.py records in model_meta.json)

parser = argparse.ArgumentParser()
parser.add_argument("--out-dir", default=str(ROOT / "bench/out"))
parser.add_argument("--seconds", type=float, help="total wall time of the bench run (printed)")
args = parser.parse_args()
out = pathlib.Path(args.out_dir)


def machine() -> dict:
    cpu = re.search(r"^model name\s*:\s*(.+)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", pathlib.Path("/proc/meminfo").read_text(), re.M)
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu.group(1).strip() if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 1024**2, 1) if mem else None,
        "load_average": os.getloadavg(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": installed_version("tensorflow"),
        "keras": installed_version("keras"),
        "numpy": installed_version("numpy"),
        "onnxruntime": installed_version("onnxruntime"),
        "azureml-inference-server-http": installed_version("azureml-inference-server-http"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


report = {"machine": machine(), "bench_seconds": args.seconds}
rows: list[tuple[str, str, str, str]] = []  # figure, ours, reference, ratio
failed: list[str] = []

training_file, scoring_file = out / "training.json", out / "scoring.json"
if training_file.is_file():
    t = json.loads(training_file.read_text())
    o, r, q = t["median"]["ours"], t["median"]["reference"], t["ratios"]
    target = f"{100 * t['target']:g} %"

    def ttt(side):
        if side["time_to_target_s"] is None:
            return f"not reached (>= {side['train_seconds']:.1f})"
        return f"{side['time_to_target_s']:.1f} (epoch {side['epoch_reached']:.0f})"

    ratio = "n/a" if q["time_to_target"] is None else (
        f"{'>= ' if q['time_to_target_is_lower_bound'] else ''}{q['time_to_target']:.1f}x faster")
    n = len(t["seeds"])
    rows += [
        (f"training: time to {target} test accuracy, s (median of {n})", ttt(o), ttt(r), ratio),
        (f"training: final test accuracy, % (median of {n})", f"{100 * o['final_test_accuracy']:.2f}",
         f"{100 * r['final_test_accuracy']:.2f}", f"{q['final_accuracy_points']:+.2f} points"),
        ("training: all epochs, s", f"{o['train_seconds']:.1f}", f"{r['train_seconds']:.1f}",
         f"{q['train_seconds']:.2f}x"),
    ]
    report["training"] = {"median": t["median"], "ratios": q, "checks": t["checks"], "seeds": t["seeds"]}
    failed += [f"training: {k}" for k, ok in t["checks"].items() if not ok]
else:
    failed.append(f"missing {training_file}")



def footprint_rows(s: dict) -> list[tuple[str, str, str, str, str]]:
    """Issue #13: figure, floor, TensorFlow path, ONNX path, ONNX vs TensorFlow."""
    f, t, o, q = s["floor"], s["tensorflow"], s["ours"], s["lean_ratios"]
    x = lambda v: f"{v:.2f}x"  # noqa: E731

    def get(side, key, sub=None):
        item = side.get(key)
        return item if sub is None or item is None else item.get(sub)

    def row(title, key, sub, fmt, lean_title, ratio=x):
        cells = [get(side, key, sub) for side in (f, t, o)]
        return (title, *["-" if v is None else fmt.format(v) for v in cells], ratio(q[lean_title]))

    w = s["workers"]
    return [
        row("image weight: installed requirements, MiB", "installed_mib", None, "{:.0f}",
            "image weight: installed requirements (MiB)"),
        row(f"cold start to first 200, s ({w} workers)", "cold_start_s", None, "{:.1f}", "cold start to first 200 (s)"),
        row("memory per worker (RSS), MiB", "worker_rss_mib", None, "{:.0f}", "memory per worker, RSS (MiB)"),
        row("server memory in all (RSS), MiB", "server_rss_mib", None, "{:.0f}", "server memory in all, RSS (MiB)"),
        row("single image p50, ms", "single_latency", "p50_ms", "{:.2f}", "single-image latency p50 (ms)"),
        row("single image p99, ms", "single_latency", "p99_ms", "{:.2f}", "single-image latency p99 (ms)"),
        ("single image p50 over the floor's", "1.00x",
         x(t["single_latency"]["p50_ms"] / f["single_latency"]["p50_ms"]), x(q["single-image p50 over the floor's"]),
         ""),
        *(row(f"single images, concurrency {c}, requests/s", f"single_c{c}", "requests_per_s", "{:.0f}",
              f"single c={c} (requests/s)") for c in (1, 8)),
        *(row(f"batches of 64, concurrency {c}, images/s", f"batch64_c{c}", "images_per_s", "{:.0f}",
              f"batch64 c={c} (images/s)") for c in (1, 8)),
        row("server CPU per single image (c=8), ms", "single_c8", "server_cpu_ms_per_request", "{:.2f}",
            "server CPU per single image at c=8 (ms)"),
        row("server CPU per batch of 64 (c=8), ms", "batch64_c8", "server_cpu_ms_per_request", "{:.1f}",
            "server CPU per batch of 64 at c=8 (ms)"),
    ]


lean_rows: list[tuple[str, str, str, str, str]] = []
if scoring_file.is_file():
    s = json.loads(scoring_file.read_text())
    if "ratios" in s:
        o, r, q = s["ours"], s["reference"], s["ratios"]
        w = s["workers"]
        rows += [
            (f"scoring: cold start to first 200, s ({w} worker)", f"{o['cold_start_s']:.1f}",
             f"{r['cold_start_s']:.1f}", f"{q['cold start to first 200 (s)']:.1f}x"),
        ]
        rows += [
            (f"scoring: single image {p}, ms", f"{o['single_latency'][p + '_ms']:.1f}",
             f"{r['single_latency'][p + '_ms']:.1f}", f"{q[f'single-image latency {p} (ms)']:.1f}x lower")
            for p in ("p50", "p90", "p99")
        ]
        rows += [
            (f"scoring: single images, concurrency {c}, requests/s", f"{o[f'single_c{c}']['requests_per_s']:.0f}",
             f"{r[f'single_c{c}']['requests_per_s']:.0f}", f"{q[f'single c={c} (requests/s)']:.1f}x")
            for c in (1, 8)
        ]
        rows += [
            (f"scoring: batches of 64, concurrency {c}, images/s", f"{o[f'batch64_c{c}']['images_per_s']:.0f}",
             f"{r[f'batch64_c{c}']['images_per_s']:.0f}", f"{q[f'batch64 c={c} (images/s)']:.1f}x")
            for c in (1, 8)
        ]
        rows.append(("scoring: server memory (RSS), MiB", f"{o['server_rss_mib']:.0f}", f"{r['server_rss_mib']:.0f}",
                     f"{q['server memory, RSS (MiB)']:.2f}x"))
        rows.append(("scoring: errors", str(s["errors"]), "", ""))
        lean_rows = footprint_rows(s)
        report["scoring"] = {"workers": w, "ratios": q, "lean_ratios": s["lean_ratios"], "checks": s["checks"],
                             "errors": s["errors"]}
        failed += [f"scoring: {k}" for k, ok in s["checks"].items() if not ok]
    else:
        failed.append("scoring ran with --only: no ratios")
else:
    failed.append(f"missing {scoring_file}")



def table(header: tuple, body: list) -> tuple[list[str], list[str]]:
    """The rows aligned for the terminal, and as Markdown."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in [header, *body]]
    markdown = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return text, markdown + ["| " + " | ".join(r) + " |" for r in body]


m = report["machine"]
print(f"\nbench: {m['cpus_usable']} cores ({m['cpu_model']}), python {m['python']}, tensorflow {m['tensorflow']}, "
      f"keras {m['keras']}, onnxruntime {m['onnxruntime']}, azmlinfsrv {m['azureml-inference-server-http']}, "
      f"{m['date']}" + (f", {args.seconds:.0f} s in all" if args.seconds else ""))
text, markdown = table(("figure", "ours", "reference", "ours vs reference"), rows)
print("\n".join(text))
if lean_rows:
    lean_text, lean_markdown = table(("serving footprint", "floor", "TensorFlow", "ONNX", "ONNX vs TF"), lean_rows)
    print("\n" + "\n".join(lean_text))
    markdown += [""] + lean_markdown
(out / "table.md").write_text("\n".join(markdown) + "\n")
report["lean_rows"] = lean_rows
report["rows"], report["failed"] = rows, failed
(out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
print("\n" + ("all targets met" if not failed else "MISSED: " + "; ".join(failed)) + f"  (details: {out}/)")
sys.exit(1 if failed else 0)
