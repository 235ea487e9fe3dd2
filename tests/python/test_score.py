"""scoring/score.py inside the real inference server app (in-process Flask test client) plus its validation helpers."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from conftest import SCORE, load_module

score = load_module("score_unit", SCORE)  # separate module object: no model, only parsing/validation


def post(client, body, **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/score", data=data, content_type="application/json", **kwargs)


def check_ok(resp, n):
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    assert set(out) == {"predictions", "probabilities"}
    assert len(out["predictions"]) == n and len(out["probabilities"]) == n
    probs = np.asarray(out["probabilities"])
    assert probs.shape == (n, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert out["predictions"] == probs.argmax(axis=1).tolist()
    assert all(isinstance(p, int) for p in out["predictions"])
    return out


def test_health(score_client):
    assert score_client.get("/").status_code == 200


def test_sample_request_scores(score_client, sample_request, sample_labels):
    out = check_ok(post(score_client, sample_request), len(sample_labels))
    correct = sum(p == y for p, y in zip(out["predictions"], sample_labels))
    assert correct >= 12  # a 1-epoch model on 900 digits; the real model gets all 20 right


def test_flat_and_nested_images_give_the_same_answer(score_client, sample_request):
    images = json.loads(sample_request)["data"][:3]
    flat = check_ok(post(score_client, {"data": images}), 3)
    nested = [np.asarray(img).reshape(28, 28).tolist() for img in images]
    square = check_ok(post(score_client, {"data": nested}), 3)
    assert square["predictions"] == flat["predictions"]
    np.testing.assert_allclose(square["probabilities"], flat["probabilities"], atol=1e-6)
    mixed = check_ok(post(score_client, {"data": [images[0], nested[1], images[2]]}), 3)
    assert mixed["predictions"] == flat["predictions"]
    single = check_ok(post(score_client, {"data": [images[1]]}), 1)
    assert single["predictions"] == flat["predictions"][1:2]
    ints = check_ok(post(score_client, {"data": [[0] * 784, [1] * 784]}), 2)  # integers 0/1 are numbers too
    assert len(ints["predictions"]) == 2


def test_batch_up_to_max_batch_size(score_client):
    check_ok(post(score_client, {"data": np.random.default_rng(0).random((32, 784)).round(3).tolist()}), 32)


GOOD = [0.5] * 784


def nested(value):
    for _ in range(200):
        value = [value]
    return value


BAD_REQUESTS = [
    ("not json", "not JSON", "not valid JSON"),
    ("truncated json", '{"data": [[0.1, 0.2', "not valid JSON"),
    ("json array", [GOOD], "expected a JSON object"),
    ("json string", '"hello"', "expected a JSON object"),
    ("missing data", {"images": [GOOD]}, 'missing key "data"'),
    ("data is a string", {"data": "abc"}, "data: expected a list of images, got string"),
    ("data is an object", {"data": {"a": 1}}, "data: expected a list of images, got object"),
    ("data is null", {"data": None}, "got null"),
    ("empty batch", {"data": []}, "data: empty batch"),
    ("batch too large", {"data": [GOOD] * 33}, "data: 33 images; the limit is MAX_BATCH_SIZE=32"),
    ("image is a number", {"data": [GOOD, 0.5]}, "data[1]: expected a list of 784 numbers or 28x28"),
    ("783 values", {"data": [GOOD, GOOD, GOOD, [0.5] * 783]}, "data[3]: expected 784 values or 28x28, got 783"),
    ("785 values", {"data": [[0.5] * 785]}, "data[0]: expected 784 values or 28x28, got 785"),
    ("28x27", {"data": [[[0.5] * 27] * 28]}, "data[0]: expected 784 values or 28x28, got 28x27"),
    ("ragged rows", {"data": [GOOD, [[0.5] * 28] * 27 + [[0.5] * 27]]}, "data[1]: ragged"),
    ("3-d image", {"data": [[[[0.5] * 28] * 28]]}, "data[0]: expected 784 values or 28x28, got 1x28x28"),
    ("string pixel", {"data": [GOOD[:5] + ["0.5"] + GOOD[6:]]}, 'data[0][5]: expected a number, got string "0.5"'),
    ("null pixel", {"data": [GOOD, GOOD[:9] + [None] + GOOD[10:]]}, "data[1][9]: expected a number, got null"),
    ("bool pixel", {"data": [GOOD[:3] + [True] + GOOD[4:]]}, "data[0][3]: expected a number, got boolean"),
    ("all bools", {"data": [[False] * 784]}, "data[0][0]: expected a number, got boolean"),
    ("nested bool", {"data": [[[0.5] * 28] * 5 + [[0.5] * 7 + [False] + [0.5] * 20] + [[0.5] * 28] * 22]},
     "data[0][5][7]: expected a number, got boolean"),
    ("object pixel", {"data": [[{"v": 1}] + GOOD[1:]]}, "data[0][0]: expected a number, got object"),
    ("NaN", '{"data": [[NaN' + ", 0.5" * 783 + "]]}", "data[0]: values must be finite"),
    ("Infinity", '{"data": [' + json.dumps(GOOD) + ", [-Infinity" + ", 0.5" * 783 + "]]}",
     "data[1]: values must be finite"),
    ("1e400", '{"data": [[1e400' + ", 0.5" * 783 + "]]}", "data[0]: values must be finite"),
    ("above 1", {"data": [GOOD, [255] * 784]}, "data[1]: values must be in [0, 1]"),
    ("negative", {"data": [[-0.1] + GOOD[1:]]}, "data[0]: values must be in [0, 1]"),
    ("huge int", '{"data": [[' + "9" * 400 + ", 0.5" * 783 + "]]}", "data[0]"),
    ("deep nesting", json.dumps({"data": nested(0.5)}), "data[0]"),
    ("absurd nesting", '{"data": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
]


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in BAD_REQUESTS], ids=[i for i, _, _ in BAD_REQUESTS])
def test_bad_request_is_400_with_a_message(score_client, body, expected):
    resp = post(score_client, body)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/json"
    error = resp.get_json()["error"]
    assert expected in error
    assert len(error) < 300


def test_oversized_body_is_400(score_client, monkeypatch):
    monkeypatch.setitem(_entry_globals(score_client), "MAX_BODY_BYTES", 1000)
    resp = post(score_client, {"data": [GOOD]})
    assert resp.status_code == 400 and "MAX_BODY_BYTES=1000" in resp.get_json()["error"]


class CountingStream:
    """A request body of `size` spaces that counts what the server reads of it (seekable for werkzeug's test client,
    which measures the stream to set Content-Length)."""

    def __init__(self, size: int):
        self.size = size
        self.pos = 0
        self.read_bytes = 0

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else self.size + offset if whence == 2 else self.pos + offset
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        self.pos += n
        self.read_bytes += n
        return b" " * n

    def readline(self, n: int = -1) -> bytes:  # pragma: no cover - werkzeug reads JSON bodies with read()
        return self.read(n)


def _entry_globals(score_client):
    # The server imports score.py as its own module; reach its globals through the loaded run().
    return score_client.application.azml_blueprint.user_script._user_run.__globals__


def test_oversized_body_is_refused_before_it_is_read(score_client, monkeypatch):
    monkeypatch.setitem(_entry_globals(score_client), "MAX_BODY_BYTES", 1000)
    body = CountingStream(10_000)
    resp = score_client.post("/score", input_stream=body, content_type="application/json")
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert resp.get_json()["error"] == "request body is 10000 bytes; the limit is MAX_BODY_BYTES=1000"
    assert body.read_bytes == 0  # without the hook the server reads all 10,000 bytes before run() refuses them


def test_oversized_chunked_body_stops_being_read_at_the_limit(score_client, monkeypatch):
    monkeypatch.setitem(_entry_globals(score_client), "MAX_BODY_BYTES", 1000)
    body = CountingStream(100_000)
    # Transfer-Encoding: chunked (no length), from a server that ends the stream itself, as gunicorn does
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    resp = score_client.post("/score", input_stream=body, content_type="application/json", environ_overrides=chunked)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "request body is more than 1000 bytes; the limit is MAX_BODY_BYTES=1000"
    assert body.read_bytes <= 1001  # without the limit: all 100,000


def test_max_body_bytes_counts_utf8_bytes_not_characters(monkeypatch):
    monkeypatch.setattr(score, "MAX_BODY_BYTES", 1000)
    text = json.dumps({"data": [GOOD[:1]], "note": "\u00e9" * 600}, ensure_ascii=False)  # ~630 chars, ~1230 bytes
    assert len(text) < 1000 < len(text.encode())
    with pytest.raises(score.RequestError, match=f"request body is {len(text.encode())} bytes; the limit is MAX_BODY"):
        score.parse_request(text)
    with pytest.raises(score.RequestError, match="request body is more than 1000 bytes"):
        score.parse_request("\u00e9" * 1001)
    with pytest.raises(score.RequestError, match="request body is 1500 bytes"):
        score.parse_request(b" " * 1500)
    with pytest.raises(score.RequestError, match="request body is more than 1000 bytes"):
        score.parse_request(" " * 1001)  # what a body cut at the limit looks like


def test_real_server_answers_a_huge_content_length_without_reading_it(server):
    """A 1 GiB Content-Length, of which 100 bytes are sent: the 400 comes at once (the server waited for the rest)."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n" + b" " * 100
        )
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert time.monotonic() - started < 10


def test_non_utf8_body_is_400(score_client):
    resp = post(score_client, b'{"data": "\xff\xfe"}')
    assert resp.status_code == 400


def test_server_keeps_serving_after_errors(score_client, sample_request):
    for _, body, _ in BAD_REQUESTS[:5]:
        assert post(score_client, body).status_code == 400
    check_ok(post(score_client, sample_request), 20)
    assert score_client.get("/").status_code == 200


# --- helpers, without the server ----------------------------------------------------------------------------------


def test_parse_request_converts_to_model_input():
    batch = score.parse_request(json.dumps({"data": [GOOD, np.zeros((28, 28)).tolist()]}))
    assert batch.shape == (2, 28, 28, 1) and batch.dtype == np.float32
    assert batch[0].max() == pytest.approx(0.5) and batch[1].max() == 0


def test_find_model_file_searches_nested_folders(tmp_path):
    nested_dir = tmp_path / "mnist-cnn" / "1" / "model"
    nested_dir.mkdir(parents=True)
    (nested_dir / "mnist_cnn.keras").write_bytes(b"x")
    (nested_dir / "model_meta.json").write_text("{}")
    assert score.find_model_file(tmp_path) == nested_dir / "mnist_cnn.keras"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no model here")
    with pytest.raises(FileNotFoundError, match=r"no \*\.onnx or \*\.keras model file .*readme.txt"):
        score.find_model_file(empty)
