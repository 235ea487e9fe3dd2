"""scoring/score.py's request validation without the server or a model: the BAD_REQUESTS table of test_score.py run
against `score.parse_request` directly (milliseconds a case, so mutmut can score it), plus the edges of what is
accepted and of MAX_BODY_BYTES / MAX_BATCH_SIZE. The server turns each RequestError into a 400 with its message."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import SCORE
from test_score import BAD_REQUESTS, GOOD

# Imported as `scoring.score`, the name mutmut 3 gives the module's mutants (its path from the project root): its
# trampolines switch a mutant on only in a module of that name (test_score.py's `score_unit` copy never sees one).
sys.path.insert(0, str(SCORE.parent.parent))
from scoring import score


@pytest.fixture(autouse=True)
def server_limits(monkeypatch):
    """The limits the test server runs with (conftest's score_client: MAX_BATCH_SIZE=32), which the table assumes."""
    monkeypatch.setattr(score, "MAX_BATCH_SIZE", 32)


def body_of(body) -> str:
    return body if isinstance(body, (str, bytes)) else json.dumps(body)


def error_of(body) -> str:
    with pytest.raises(score.RequestError) as info:
        score.parse_request(body_of(body))
    return str(info.value)


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in BAD_REQUESTS], ids=[i for i, _, _ in BAD_REQUESTS])
def test_bad_request_is_a_request_error_with_the_400_message(body, expected):
    error = error_of(body)
    assert expected in error
    assert len(error) < 300


# The whole message where the table checks a part of it.
EXACT = [
    ({"images": [GOOD]}, 'request body: missing key "data" (expected {"data": [image, ...]})'),
    ([GOOD], 'request body: expected a JSON object {"data": [...]}, got list'),
    ("12", 'request body: expected a JSON object {"data": [...]}, got int'),
    ("null", 'request body: expected a JSON object {"data": [...]}, got null'),
    ({"data": True}, "data: expected a list of images, got boolean"),
    ({"data": None}, "data: expected a list of images, got null"),
    ({"data": []}, "data: empty batch (expected at least 1 image)"),
    ({"data": [GOOD, "x"]}, "data[1]: expected a list of 784 numbers or 28x28 (or 28x28x1) nested lists, got string"),
    ({"data": [GOOD, None]}, "data[1]: expected a list of 784 numbers or 28x28 (or 28x28x1) nested lists, got null"),
    ({"data": [[0.5] * 783]}, "data[0]: expected 784 values or 28x28, got 783 values (28x28x1, channel last, is accepted too)"),
    ({"data": [[[[0.5] * 2] * 28] * 28]}, "data[0]: expected 784 values or 28x28, got 28x28x2 (28x28x1, channel last, is accepted too)"),
    ({"data": [[[0.5] * 28] * 27 + [[0.5] * 27]]}, "data[0]: ragged nested lists (rows of different lengths)"),
    ({"data": [["a"] * 784]}, 'data[0][0]: expected a number, got string "a"'),
    ({"data": [GOOD[:783] + [[0.5]]]}, "data[0]: ragged nested lists (rows of different lengths)"),
    ({"data": [GOOD, GOOD[:100] + [True] + GOOD[101:]]}, "data[1][100]: expected a number, got boolean true"),
    ({"data": [GOOD, [1.5] + GOOD[1:]]}, "data[1]: values must be in [0, 1] (scale 0..255 pixels by 1/255), got min 0.5, max 1.5"),
    ({"data": [[-0.25] + GOOD[1:]]}, "data[0]: values must be in [0, 1] (scale 0..255 pixels by 1/255), got min -0.25, max 0.5"),
    ('{"data": [[0.5' + ", 0.5" * 782 + ", NaN]]}", "data[0]: values must be finite numbers in [0, 1], got NaN or Infinity"),
    ('{"data": ' + "[" * 100000 + "]" * 100000 + "}", "request body: JSON nested too deeply"),
]


@pytest.mark.parametrize("body,expected", EXACT)
def test_the_whole_message(body, expected):
    assert error_of(body) == expected


def test_not_text_nor_bytes():
    with pytest.raises(score.RequestError, match="^expected a JSON request body, got object$"):
        score.parse_request({"data": [GOOD]})
    with pytest.raises(score.RequestError, match="^expected a JSON request body, got null$"):
        score.parse_request(None)


def test_invalid_json_names_the_parser_error():
    assert error_of("{").startswith("request body is not valid JSON: ")
    assert error_of("").startswith("request body is not valid JSON: ")


@pytest.mark.parametrize(
    "images,shape",
    [
        ([GOOD], (1, 28, 28, 1)),
        ([np.zeros((28, 28)).tolist()], (1, 28, 28, 1)),
        ([np.zeros((28, 28, 1)).tolist()], (1, 28, 28, 1)),
        ([[0] * 784, [1] * 784], (2, 28, 28, 1)),  # integers, and both bounds of [0, 1]
        ([GOOD, np.ones((28, 28)).tolist()], (2, 28, 28, 1)),  # mixed layouts
        ([GOOD] * 32, (32, 28, 28, 1)),  # MAX_BATCH_SIZE exactly
    ],
)
def test_accepted(images, shape):
    for raw in (json.dumps({"data": images}), json.dumps({"data": images}).encode(), bytearray(json.dumps({"data": images}).encode())):
        batch = score.parse_request(raw)
        assert batch.shape == shape and batch.dtype == np.float32
        for got, image in zip(batch, images):
            np.testing.assert_array_equal(got.ravel(), np.asarray(image, dtype=np.float32).ravel())


def test_false_in_a_key_is_not_a_boolean_pixel():
    # the text scan for true/false is only a shortcut: a key that contains "false" still parses
    batch = score.parse_request(json.dumps({"data": [GOOD], "falsey_note": "true"}))
    assert batch.shape == (1, 28, 28, 1)


def test_batch_limit_follows_max_batch_size(monkeypatch):
    monkeypatch.setattr(score, "MAX_BATCH_SIZE", 2)
    assert score.parse_request(json.dumps({"data": [GOOD] * 2})).shape[0] == 2
    assert error_of({"data": [GOOD] * 3}) == "data: 3 images; the limit is MAX_BATCH_SIZE=2"


def padded(size: int, char: str = " ") -> str:
    """A valid request padded with `char` (inside a string value) to exactly `size` UTF-8 bytes."""
    head = json.dumps({"data": [GOOD[:1] * 784]})[:-1] + ', "pad": "'
    tail = '"}'
    room = size - len((head + tail).encode())
    per = len(char.encode())
    text = head + char * (room // per) + " " * (room % per) + tail
    assert len(text.encode()) == size
    return text


@pytest.mark.parametrize("as_bytes", [False, True])
def test_max_body_bytes_is_inclusive(monkeypatch, as_bytes):
    monkeypatch.setattr(score, "MAX_BODY_BYTES", 5000)
    at = padded(5000)
    assert score.parse_request(at.encode() if as_bytes else at).shape == (1, 28, 28, 1)
    over = padded(5001)
    with pytest.raises(score.RequestError, match=r"^request body is more than 5000 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request(over.encode() if as_bytes else over)
    with pytest.raises(score.RequestError, match=r"^request body is 5002 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request(padded(5002).encode() if as_bytes else padded(5002))


def test_max_body_bytes_counts_utf8_bytes_of_text_under_the_limit_in_characters(monkeypatch):
    monkeypatch.setattr(score, "MAX_BODY_BYTES", 5000)
    assert score.parse_request(padded(5000, "\u00e9")).shape == (1, 28, 28, 1)  # fewer characters than bytes
    with pytest.raises(score.RequestError, match=r"^request body is 5002 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request(padded(5002, "\u00e9"))
    with pytest.raises(score.RequestError, match=r"^request body is more than 5000 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request("\u00e9" * 5001)  # more characters than the limit: not even encoded


def test_bytes_that_are_not_utf8_are_a_decode_error():
    """run() answers UnicodeDecodeError with a 400 like a RequestError (the strict decoder's message names the byte)."""
    with pytest.raises(UnicodeDecodeError, match="can't decode byte 0xff"):
        score.parse_request(b'{"data": "\xff"}')


def test_text_of_exactly_the_limit_in_characters_is_measured_in_bytes(monkeypatch):
    monkeypatch.setattr(score, "MAX_BODY_BYTES", 5000)
    with pytest.raises(score.RequestError, match=r"^request body is 10000 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request("\u00e9" * 5000)
    # more characters than the limit: its size in bytes is not computed, and not guessed from the characters
    with pytest.raises(score.RequestError, match=r"^request body is more than 5000 bytes; the limit is MAX_BODY_BYTES=5000$"):
        score.parse_request("\u00e9" * 6000)
