"""The three image layouts score.py accepts (784, 28x28, 28x28x1) and the ambiguous ones it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SCORE, load_module
from test_score import check_ok, post

score = load_module("score_layouts", SCORE)  # parsing only, no model


@pytest.fixture(scope="module")
def images(sample_request) -> np.ndarray:
    return np.asarray(json.loads(sample_request)["data"][:4])


def test_channels_last_images_give_the_same_answer_as_flat_ones(score_client, images):
    """x_test[i].tolist() after np.expand_dims(x_test, -1): the model's own input shape."""
    flat = check_ok(post(score_client, {"data": images.tolist()}), 4)
    channels_last = images.reshape(4, 28, 28, 1)
    assert channels_last[0].tolist()[0][0] == [0.0]  # lists of one number per pixel
    out = check_ok(post(score_client, {"data": channels_last.tolist()}), 4)
    assert out == flat


def test_the_three_layouts_mix_in_one_batch(score_client, images):
    flat = check_ok(post(score_client, {"data": images[:3].tolist()}), 3)
    mixed = [images[0].tolist(), images[1].reshape(28, 28).tolist(), images[2].reshape(28, 28, 1).tolist()]
    assert check_ok(post(score_client, {"data": mixed}), 3) == flat


def test_parse_request_gives_the_model_input_for_every_layout(images):
    for shape in [(784,), (28, 28), (28, 28, 1)]:
        batch = score.parse_request(json.dumps({"data": [images[0].reshape(shape).tolist()]}))
        assert batch.shape == (1, 28, 28, 1) and batch.dtype == np.float32
        np.testing.assert_array_equal(batch.reshape(-1), images[0].astype(np.float32))


AMBIGUOUS = [
    ("channels first", (1, 28, 28), "got 1x28x28"),
    ("two channels", (28, 28, 2), "got 28x28x2"),
    ("three channels", (28, 28, 3), "got 28x28x3"),
    ("flat column", (784, 1), "got 784x1"),
    ("flat with a channel", (1, 784), "got 1x784"),
    ("batch inside an image", (1, 28, 28, 1), "got 1x28x28x1"),
    ("transposed channel", (28, 1, 28), "got 28x1x28"),
]


@pytest.mark.parametrize("shape,expected", [(s, e) for _, s, e in AMBIGUOUS], ids=[i for i, _, _ in AMBIGUOUS])
def test_ambiguous_layouts_are_400_saying_what_is_expected(score_client, shape, expected):
    resp = post(score_client, {"data": [[0.5] * 784, np.full(shape, 0.5).tolist()]})
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    error = resp.get_json()["error"]
    assert error.startswith("data[1]: expected 784 values or 28x28, ") and expected in error
    assert "28x28x1, channel last, is accepted too" in error


def test_bad_pixels_in_channels_last_images_are_located(score_client):
    image = np.full((28, 28, 1), 0.5).tolist()
    image[3][7][0] = "0.5"
    resp = post(score_client, {"data": [image]})
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith('data[0][3][7][0]: expected a number, got string "0.5"')
    ragged = np.full((28, 28, 1), 0.5).tolist()
    ragged[27][27] = 0.5  # one pixel without its channel list
    resp = post(score_client, {"data": [ragged]})
    assert resp.status_code == 400 and "data[0]: ragged" in resp.get_json()["error"]
    above = np.full((28, 28, 1), 0.5)
    above[0, 0, 0] = 2
    resp = post(score_client, {"data": [above.tolist()]})
    assert resp.status_code == 400 and "data[0]: values must be in [0, 1]" in resp.get_json()["error"]
