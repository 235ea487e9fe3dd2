"""Integration: the real `azmlinfsrv` process serving scoring/score.py with the session's trained model."""

from __future__ import annotations

import json
import time

from conftest import request


def test_health(server):
    status, body = request(server + "/")
    assert status == 200 and b"Healthy" in body


def test_scores_the_sample_request(server, sample_request, sample_labels):
    status, body = request(server + "/score", sample_request.encode())
    assert status == 200, body[:500]
    out = json.loads(body)
    assert len(out["predictions"]) == len(sample_labels) == 20
    assert all(abs(sum(p) - 1) < 1e-4 for p in out["probabilities"])


def test_bad_requests_are_400_and_the_server_keeps_serving(server, sample_request):
    bad = {
        b"not json": "not valid JSON",
        b'{"data": [[0.5]]}': "data[0]: expected 784 values or 28x28, got 1 values",
        json.dumps({"data": [[0.5] * 784] * 33}).encode(): "MAX_BATCH_SIZE=32",
        b'{"data": [' + b"[" * 50000 + b"]" * 50000 + b"]}": "nested too deeply",
    }
    for body, expected in bad.items():
        status, reply = request(server + "/score", body)
        assert status == 400, reply[:300]
        assert expected in json.loads(reply)["error"]
    status, _ = request(server + "/score", sample_request.encode())
    assert status == 200


def test_latency_of_a_single_image(server, sample_request):
    one = json.dumps({"data": json.loads(sample_request)["data"][:1]}).encode()
    times = []
    for _ in range(20):
        started = time.perf_counter()
        status, _ = request(server + "/score", one)
        times.append(time.perf_counter() - started)
        assert status == 200
    times.sort()
    median_ms = times[len(times) // 2] * 1000
    print(f"azmlinfsrv single-image round trip: median {median_ms:.1f} ms")
    assert median_ms < 250  # generous for a loaded 2-core CI box; ~5-10 ms when idle
