"""The OpenAPI documents the real `azmlinfsrv` serves at /swagger.json, checked with tools nobody here wrote.

- openapi-spec-validator: each served document (Swagger 2.0, OpenAPI 3.0, OpenAPI 3.1) is a valid specification;
- openapi-core: every answer of the server to the requests of the other tests (200s, every hostile 400) matches the
  OpenAPI 3.0 and 3.1 documents, and the documents accept exactly the requests the server scores;
- jsonschema: the same answers match the Swagger 2.0 definitions;
- openapi-python-client: a client generated from the served OpenAPI 3.0 document classifies the sample digits.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate

from conftest import ROOT, http, load_module
from test_score import BAD_REQUESTS, GOOD

schema_module = load_module("schema_gen", ROOT / "scoring" / "schema.py")
VERSIONS = {"2": "swagger2.json", "3": "swagger3.json", "3.1": "swagger3.1.json"}
SERVER_MAX_BATCH_SIZE = 32  # the test server's MAX_BATCH_SIZE (conftest); the documents state the default, 256


@pytest.fixture(scope="module")
def documents(server) -> dict[str, dict]:
    out = {}
    for version in VERSIONS:
        status, ctype, body = http(f"{server}/swagger.json?version={version}")
        assert status == 200 and ctype.startswith("application/json"), body[:300]
        out[version] = json.loads(body)
    return out


@pytest.fixture(scope="module")
def openapi(documents) -> dict[str, OpenAPI]:
    return {version: OpenAPI.from_dict(documents[version]) for version in ("3", "3.1")}


def test_shipped_files_are_what_the_scoring_code_says():
    assert schema_module.stale_files() == [], "scoring/swagger*.json are stale: run python scoring/schema.py"


def test_served_documents_are_the_shipped_files_and_valid_specifications(server, documents):
    status, _, default = http(f"{server}/swagger.json")
    assert status == 200 and json.loads(default) == documents["2"]  # no ?version: Swagger 2.0, as in Azure
    for version, name in VERSIONS.items():
        assert documents[version] == json.loads((ROOT / "scoring" / name).read_text()), name
        validate(documents[version])  # raises on any violation of the 2.0 / 3.0 / 3.1 specification
    assert documents["2"]["swagger"] == "2.0"
    assert documents["3"]["openapi"].startswith("3.0.") and documents["3.1"]["openapi"] == "3.1.0"
    # The real contract, not the server's placeholder ({"type": "object", "example": {}}).
    schemas = documents["3"]["components"]["schemas"]
    assert schemas["ServiceInput"]["required"] == ["data"]
    assert schemas["ServiceInput"]["properties"]["data"]["maxItems"] == 256
    assert schemas["ServiceOutput"]["required"] == ["predictions", "probabilities"]


def test_the_documented_examples_are_real(server, documents, sample_request, sample_labels):
    score_op = documents["3"]["paths"]["/score"]["post"]
    example = score_op["requestBody"]["content"]["application/json"]["example"]
    assert example == {"data": json.loads(sample_request)["data"][:1]}
    assert score_op["responses"]["200"]["content"]["application/json"]["example"]["predictions"] == sample_labels[:1]
    assert documents["2"]["definitions"]["ServiceInput"]["example"] == example
    status, _, body = http(f"{server}/score", json.dumps(example).encode())
    assert status == 200, body[:300]
    error_example = score_op["responses"]["400"]["content"]["application/json"]["example"]
    status, _, body = http(f"{server}/score", json.dumps({"data": [example["data"][0][:-1]]}).encode())
    assert status == 400 and json.loads(body) == error_example


def _strict_json(body: bytes):
    """The parsed body, or None when it is not JSON for a strict parser (NaN, Infinity, absurd depth, bad UTF-8)."""
    def no_constants(name):
        raise ValueError(name)

    try:
        return json.loads(body, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None


def _requests(sample_request: str) -> list[tuple[str, bytes]]:
    images = np.asarray(json.loads(sample_request)["data"])
    good = {
        "sample (20 flat)": json.loads(sample_request),
        "28x28": {"data": images[:3].reshape(3, 28, 28).tolist()},
        "28x28x1": {"data": images[:3].reshape(3, 28, 28, 1).tolist()},
        "mixed layouts": {"data": [images[0].tolist(), images[1].reshape(28, 28).tolist(),
                                   images[2].reshape(28, 28, 1).tolist()]},
        "integer pixels": {"data": [[0] * 784, [1] * 784]},
        "full batch": {"data": np.random.default_rng(0).random((SERVER_MAX_BATCH_SIZE, 784)).round(3).tolist()},
        "extra key": {"data": [GOOD], "id": "ignored"},
    }
    hostile = {
        "not utf-8": b'{"data": "\xff\xfe"}',
        "one value": {"data": [[0.5]]},
        "50000 brackets": b'{"data": [' + b"[" * 50000 + b"]" * 50000 + b"]}",
        "channels first": {"data": [np.full((1, 28, 28), 0.5).tolist()]},
        "28x28x3": {"data": [np.full((28, 28, 3), 0.5).tolist()]},
    }
    out = []
    for name, body in [*good.items(), *((name, body) for name, body, _ in BAD_REQUESTS), *hostile.items()]:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        out.append((name, data))
    return out


@pytest.mark.slow
def test_every_answer_matches_the_documents_and_they_accept_what_the_server_scores(
    server, documents, openapi, sample_request
):
    swagger2 = documents["2"]["definitions"]
    seen = {200: 0, 400: 0}
    for name, body in _requests(sample_request):
        status, ctype, answer = http(f"{server}/score", body)
        seen[status] = seen.get(status, 0) + 1
        assert status in (200, 400), f"{name}: {status} {answer[:300]!r}"
        request = MockRequest(server, "post", "/score", data=body, headers={"Authorization": "Bearer x"})
        response = MockResponse(answer, status_code=status, content_type=ctype.split(";")[0])
        for version, api in openapi.items():
            api.validate_response(request, response)  # raises with the offending field on a mismatch
        definition = swagger2["ServiceOutput" if status == 200 else "BadRequest"]
        jsonschema.Draft4Validator({**definition, "definitions": swagger2}).validate(json.loads(answer))

        parsed = _strict_json(body)
        if parsed is None:
            assert status == 400, name
            continue
        accepted = not list(openapi["3"].iter_request_errors(request))
        over_test_limit = isinstance(parsed, dict) and len(parsed.get("data") or []) > SERVER_MAX_BATCH_SIZE
        expected = 200 if accepted and not over_test_limit else 400
        assert status == expected, f"{name}: the document {'accepts' if accepted else 'refuses'} it, server: {status}"
    assert seen[200] == 7 and seen[400] == len(BAD_REQUESTS) + 5


def test_the_oversized_body_answer_matches_the_documents(score_client, openapi, monkeypatch):
    """MAX_BODY_BYTES is 16 MiB on the real server: lowered in-process, as in test_score."""
    entry_globals = score_client.application.azml_blueprint.user_script._user_run.__globals__
    monkeypatch.setitem(entry_globals, "MAX_BODY_BYTES", 1000)
    body = json.dumps({"data": [GOOD]}).encode()
    resp = score_client.post("/score", data=body, content_type="application/json")
    assert resp.status_code == 400 and "MAX_BODY_BYTES=1000" in resp.get_json()["error"]
    for api in openapi.values():
        api.validate_response(
            MockRequest("http://localhost", "post", "/score", data=body),
            MockResponse(resp.get_data(), status_code=400, content_type=resp.mimetype),
        )


@pytest.fixture(scope="module")
def generated_client(server, tmp_path_factory):
    """A Python client generated by openapi-python-client from the served OpenAPI 3.0 document, imported."""
    work = tmp_path_factory.mktemp("generated-client")
    status, _, doc = http(f"{server}/swagger.json?version=3")
    assert status == 200
    (work / "openapi.json").write_bytes(doc)
    (work / "config.yml").write_text("project_name_override: mnist-client\npackage_name_override: mnist_client\n")
    exe = Path(sys.executable).with_name("openapi-python-client")
    proc = subprocess.run(
        [str(exe), "generate", "--path", str(work / "openapi.json"), "--config", str(work / "config.yml"),
         "--output-path", str(work / "mnist-client")],
        capture_output=True, text=True, timeout=120, cwd=work,
        env={**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"},  # its ruff post-hooks
    )
    assert "Warning" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sys.path.insert(0, str(work / "mnist-client"))
    try:
        yield importlib.import_module("mnist_client")
    finally:
        sys.path.remove(str(work / "mnist-client"))
        for name in [m for m in sys.modules if m == "mnist_client" or m.startswith("mnist_client.")]:
            del sys.modules[name]


def test_a_generated_client_classifies_the_sample_digits(server, generated_client, sample_request, sample_labels):
    from mnist_client import Client
    from mnist_client.api.default import run_ml_service
    from mnist_client.models import ScoringError, ServiceInput, ServiceOutput

    client = Client(base_url=server, raise_on_unexpected_status=True)
    images = json.loads(sample_request)["data"]
    out = run_ml_service.sync(client=client, body=ServiceInput(data=images))
    assert isinstance(out, ServiceOutput), out
    status, _, raw = http(f"{server}/score", sample_request.encode())
    assert status == 200 and out.to_dict() == json.loads(raw)  # what the server said, typed
    correct = sum(p == y for p, y in zip(out.predictions, sample_labels))
    assert correct >= 12  # the session's 1-epoch model on 900 digits (test_score's bar); the real model gets 20/20

    channels_last = np.asarray(images[:5]).reshape(5, 28, 28, 1).tolist()
    out_cl = run_ml_service.sync(client=client, body=ServiceInput(data=channels_last))
    assert isinstance(out_cl, ServiceOutput) and out_cl.predictions == out.predictions[:5]

    bad = run_ml_service.sync(client=client, body=ServiceInput(data=[[0.5] * 783]))
    assert isinstance(bad, ScoringError)
    assert bad.error.startswith("data[0]: expected 784 values or 28x28, got 783 values")
