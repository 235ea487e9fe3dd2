"""Medians over repeated bench runs, as a Markdown table (what bench/RESULTS.md records).

    for i in 1 2 3; do npm run bench; mkdir -p bench/out/runs/run$i; cp bench/out/*.json bench/out/runs/run$i/; done
    python bench/aggregate.py bench/out/runs/run*

Training figures pool every seed of every run (runs x seeds samples); scoring figures take one sample per run.
Each cell is the median, with the range [min-max] of the samples.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys

dirs = [pathlib.Path(p) for p in sys.argv[1:]]
if not dirs:
    sys.exit(__doc__)
training = [json.loads((d / "training.json").read_text()) for d in dirs if (d / "training.json").is_file()]
scoring = [json.loads((d / "scoring.json").read_text()) for d in dirs if (d / "scoring.json").is_file()]


def cell(values: list[float | None], fmt: str = "{:.1f}") -> tuple[str, float | None]:
    """median [min-max]; None (never reached) sorts above every number."""
    inf = float("inf")
    xs = sorted(inf if v is None else v for v in values)
    m = statistics.median(xs)
    show = lambda v: "not reached" if v == inf else fmt.format(v)  # noqa: E731
    return f"{show(m)} [{show(xs[0])}–{show(xs[-1])}]", (None if m == inf else m)


rows = []
if training:
    target = training[0]["target"]
    samples = {side: [r for t in training for r in t[side]] for side in ("ours", "reference")}
    n = len(samples["ours"])
    o_t, o_tv = cell([r["time_to_target_s"] for r in samples["ours"]])
    r_t, r_tv = cell([r["time_to_target_s"] for r in samples["reference"]])
    o_total = statistics.median(r["train_seconds"] for r in samples["ours"])
    r_total = statistics.median(r["train_seconds"] for r in samples["reference"])
    if r_tv is None:
        r_t = f"not reached in {sum(r['time_to_target_s'] is None for r in samples['reference'])}/{n} " \
              f"(total {r_total:.1f} s)"
        ratio = f"≥ {r_total / o_tv:.1f}x faster" if o_tv else "n/a"
    else:
        ratio = f"{r_tv / o_tv:.1f}x faster" if o_tv else "n/a"
    rows.append((f"Training: time to {100 * target:g} % test accuracy, s ({n} runs)", o_t, r_t, ratio))
    o_e, _ = cell([r["epoch_reached"] for r in samples["ours"]], "{:.0f}")
    rows.append(("Training: epoch reaching it", o_e, "–", ""))
    o_a, o_av = cell([100 * r["final_test_accuracy"] for r in samples["ours"]], "{:.2f}")
    r_a, r_av = cell([100 * r["final_test_accuracy"] for r in samples["reference"]], "{:.2f}")
    rows.append((f"Training: final test accuracy, % ({n} runs)", o_a, r_a, f"{o_av - r_av:+.2f} points"))
    o_s, o_sv = cell([r["train_seconds"] for r in samples["ours"]])
    r_s, r_sv = cell([r["train_seconds"] for r in samples["reference"]])
    rows.append(("Training: all 15 epochs, s", o_s, r_s, f"{r_sv / o_sv:.2f}x"))
    o_p, o_pv = cell([r["seconds_per_epoch"] for r in samples["ours"]], "{:.2f}")
    r_p, r_pv = cell([r["seconds_per_epoch"] for r in samples["reference"]], "{:.2f}")
    rows.append(("Training: seconds per epoch", o_p, r_p, f"{r_pv / o_pv:.2f}x"))

if scoring:
    w = scoring[0]["workers"]
    n = len(scoring)

    def side(key, sub=None):
        pick = lambda s, k: s[k] if sub is None else s[k][sub]  # noqa: E731
        return [pick(s["ours"], key) for s in scoring], [pick(s["reference"], key) for s in scoring]

    def add(title, key, sub, better, fmt="{:.1f}", suffix=""):
        a, b = side(key, sub)
        (ca, va), (cb, vb) = cell(a, fmt), cell(b, fmt)
        ratios = [(y / x if better == "lower" else x / y) for x, y in zip(a, b)]
        rows.append((title, ca, cb, f"{statistics.median(ratios):.1f}x{suffix}"))

    add(f"Scoring: cold start to first 200, s ({w} worker, {n} runs)", "cold_start_s", None, "lower")
    for p in ("p50", "p90", "p99"):
        add(f"Scoring: single image {p}, ms", "single_latency", f"{p}_ms", "lower", suffix=" lower")
    for c in (1, 8):
        add(f"Scoring: single images, concurrency {c}, requests/s", f"single_c{c}", "requests_per_s", "higher",
            "{:.0f}")
    for c in (1, 8):
        add(f"Scoring: batches of 64, concurrency {c}, images/s", f"batch64_c{c}", "images_per_s", "higher", "{:.0f}")
    add("Scoring: server memory (RSS), MiB", "server_rss_mib", None, "lower", "{:.0f}")
    rows.append(("Scoring: errors (all runs)", str(sum(s["errors"] for s in scoring)), "", ""))

print("| Figure | Ours | Reference | Ours vs reference |")
print("| --- | --- | --- | --- |")
for row in rows:
    print("| " + " | ".join(row) + " |")
