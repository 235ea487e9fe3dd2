"""Integration: the real `azmlinfsrv` process serving scoring/score.py with the session's trained model."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SCORE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, body: bytes | None = None, timeout: float = 30):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read()


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    # Register-like layout: Azure mounts the registered folder one level down inside AZUREML_MODEL_DIR.
    model_dir = tmp_path_factory.mktemp("azureml-models")
    shutil.copytree(trained["dir"], model_dir / "mnist-cnn")
    exe = Path(sys.executable).with_name("azmlinfsrv")
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "azmlinfsrv.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AML_"))}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "MAX_BATCH_SIZE": "32"})
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [str(exe), "--entry_script", str(SCORE), "--model_dir", str(model_dir), "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=ROOT / "scoring",
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"azmlinfsrv exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if request(base + "/", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"azmlinfsrv not healthy after 120 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
