"""score.py parses bodies with orjson when it is installed, else with json: the same answers and the same 400s."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SCORE, load_module
from test_score import BAD_REQUESTS, GOOD

with_orjson = load_module("score_orjson", SCORE)
json_only = load_module("score_json_only", SCORE)
json_only.orjson = None


def outcome(module, body):
    try:
        return module.parse_request(body)
    except (module.RequestError, UnicodeDecodeError) as ex:
        return f"{type(ex).__name__}: {ex}"


def test_orjson_is_installed_in_the_inference_environment():
    assert with_orjson.orjson is not None  # scoring/requirements.txt pins it


@pytest.mark.parametrize("body", [b for _, b, _ in BAD_REQUESTS] + [{"data": [GOOD, [[0.25] * 28] * 28]}],
                         ids=[i for i, _, _ in BAD_REQUESTS] + ["good"])
def test_the_same_outcome_with_and_without_orjson(body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    fast, plain = outcome(with_orjson, raw), outcome(json_only, raw)
    if isinstance(plain, str):
        assert fast == plain
    else:
        np.testing.assert_array_equal(fast, plain)
