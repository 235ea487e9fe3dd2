"""The scoring API as OpenAPI documents, written beside score.py where Azure ML's inference server serves them.

azureml-inference-server-http answers GET /swagger.json (?version=2, the default; 3 or 3.0; 3.1) with the file
swagger2.json, swagger3.json or swagger3.1.json found at the root of the code folder (AML_APP_ROOT: the folder of the
scoring script in an online deployment) and only falls back to generating one from inference-schema decorators when
the file is missing. run() is not decorated (see score.py), so these files are what a caller, a generated client or
the studio sees. They are built here from score.py's own constants and the sample digits of sample-request.json;
tests/python/test_openapi.py checks the shipped files against build() and every server answer against them.

    python scoring/schema.py           # rewrite the three files (then formats them with the project's prettier)
    python scoring/schema.py --check   # exit 1 when a shipped file differs from what the code says
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"2": "swagger2.json", "3": "swagger3.json", "3.1": "swagger3.1.json"}
TITLE = "MNIST digit classifier"
SERVER_ERROR = "An error of the inference server itself (e.g. 500, scoring timeout)."
MANAGED_424 = (
    "Only behind an Azure ML managed online endpoint: how it passes on a non-200 answer of the scoring script (Azure's "
    "'Model Error'), with the original status in the header ms-azureml-model-error-statuscode and the script's body."
)
OK_200 = "The predictions (in the example, the probabilities are illustrative)."


def _score_module():
    """score.py itself (its constants are the contract); it is a script, not a package, so load it by path."""
    spec = importlib.util.spec_from_file_location("score_contract", HERE / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _examples(score) -> tuple[dict, dict, dict]:
    """A real request (the first sample digit), the response shape for it, and a real 400 body."""
    image = json.loads((HERE / "sample-request.json").read_text())["data"][0]
    label = json.loads((HERE / "sample-labels.json").read_text())[0]
    assert len(image) == score.IMAGE_SIZE, "sample-request.json: images are stored flat (784 values)"
    low = 0.0001  # illustrative probabilities: the true label well ahead, the row summing to 1
    top = round(1 - low * (score.NUM_CLASSES - 1), 6)
    probabilities = [top if k == label else low for k in range(score.NUM_CLASSES)]
    try:
        score.parse_request(json.dumps({"data": [image[:-1]]}))
    except score.RequestError as ex:
        error = {"error": str(ex)}
    else:  # pragma: no cover - parse_request must refuse 783 values
        raise AssertionError("score.parse_request accepted a 783-value image")
    return {"data": [image]}, {"predictions": [label], "probabilities": [probabilities]}, error


def _schemas(score) -> dict:
    """JSON Schemas of the contract (OpenAPI 3 flavour; swagger2() loosens what Swagger 2.0 cannot say)."""
    side, size, classes, limit = score.IMAGE_SIDE, score.IMAGE_SIZE, score.NUM_CLASSES, score.DEFAULT_MAX_BATCH_SIZE

    def array(items: dict, n: int) -> dict:
        return {"type": "array", "items": items, "minItems": n, "maxItems": n}

    pixel = {"$ref": "#/components/schemas/Pixel"}
    return {
        "ServiceInput": {
            "type": "object",
            "description": (
                f"A batch of 1 to {limit} images (MAX_BATCH_SIZE; a deployment may set another limit, and then says "
                f"so in its 400 answer). Request bodies above MAX_BODY_BYTES ({score.DEFAULT_MAX_BODY_BYTES} bytes) "
                "are refused. Other keys are ignored."
            ),
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "array",
                    "description": "The images; each may use any of the three layouts, mixed in one batch.",
                    "items": {"$ref": "#/components/schemas/Image"},
                    "minItems": 1,
                    "maxItems": limit,
                }
            },
        },
        "Image": {
            "description": (
                f"One {side}x{side} grey-scale image, white digit on black like MNIST, pixel values in [0, 1] "
                "(0..255 pixels divided by 255), in one of three layouts. Anything else, e.g. channel first "
                f"(1x{side}x{side}), is refused with a 400 that names the expected layouts."
            ),
            "oneOf": [
                {"$ref": "#/components/schemas/FlatImage"},
                {"$ref": "#/components/schemas/SquareImage"},
                {"$ref": "#/components/schemas/ChannelsLastImage"},
            ],
        },
        "FlatImage": {**array(pixel, size), "description": f"{size} pixels, row by row."},
        "SquareImage": {**array(array(pixel, side), side), "description": f"{side} rows of {side} pixels."},
        "ChannelsLastImage": {
            **array(array(array(pixel, 1), side), side),
            "description": (
                f"{side}x{side}x1: the model's own input shape (channel last), what x_test[i].tolist() gives after "
                "np.expand_dims(x_test, -1)."
            ),
        },
        "Pixel": {"type": "number", "minimum": 0, "maximum": 1},
        "ServiceOutput": {
            "type": "object",
            "description": "One entry per image, in request order.",
            "required": ["predictions", "probabilities"],
            "additionalProperties": False,
            "properties": {
                "predictions": {
                    "type": "array",
                    "description": "The predicted digit of each image (the class with the highest probability).",
                    "items": {"type": "integer", "minimum": 0, "maximum": classes - 1},
                    "minItems": 1,
                },
                "probabilities": {
                    "type": "array",
                    "description": f"Per image the {classes} class probabilities (digits 0..9), rounded to 6 decimals.",
                    "items": array({"type": "number", "minimum": 0, "maximum": 1}, classes),
                    "minItems": 1,
                },
            },
        },
        "BadRequest": {
            "description": (
                "A request the service refuses: the scoring script's own message, or (body not UTF-8) the inference "
                "server's."
            ),
            "oneOf": [{"$ref": "#/components/schemas/ScoringError"}, {"$ref": "#/components/schemas/ErrorResponse"}],
        },
        "ScoringError": {
            "type": "object",
            "description": "What is wrong and where, e.g. which image and pixel.",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {"error": {"type": "string"}},
        },
        "ErrorResponse": {
            "type": "object",
            "description": "An error answered by the inference server itself (not by the scoring script).",
            "required": ["message"],
            "additionalProperties": False,
            "properties": {"message": {"type": "string"}},
        },
    }


def _info(score) -> dict:
    return {
        "title": TITLE,
        "version": "1.0",
        "description": (
            "Classifies 28x28 images of handwritten digits with the project's Keras CNN (scoring/score.py on "
            "azureml-inference-server-http). POST /score with {\"data\": [image, ...]}; the answer has one prediction "
            "and 10 probabilities per image. Every malformed request gets a 400 with a JSON message and the service "
            "keeps serving. Behind an Azure ML managed online endpoint, requests need 'Authorization: Bearer <key or "
            "token>', and the endpoint passes a 400 of the scoring script on to the client as 424 with the same body. "
            "The local server (npm run local / npm run serve) needs no key."
        ),
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, example=None) -> dict:
    media = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def openapi3(score, version: str = "3.0.3") -> dict:
    request, response, error = _examples(score)
    server_error = {"description": SERVER_ERROR, "content": _json(_ref("ErrorResponse"))}
    return {
        "openapi": version,
        "info": _info(score),
        "security": [{"Bearer": []}],
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": "Health check: 'Healthy' while the server is up.",
                    "responses": {
                        "200": {
                            "description": "The server is up.",
                            "content": {"text/html": {"schema": {"type": "string"}, "example": "Healthy"}},
                        },
                        "default": server_error,
                    },
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "summary": "Classify a batch of digit images",
                    "requestBody": {"required": True, "content": _json(_ref("ServiceInput"), request)},
                    "responses": {
                        "200": {"description": OK_200, "content": _json(_ref("ServiceOutput"), response)},
                        "400": {"description": "A malformed request.", "content": _json(_ref("BadRequest"), error)},
                        "424": {"description": MANAGED_424, "content": _json(_ref("BadRequest"), error)},
                        "default": server_error,
                    },
                }
            },
            "/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": (
                        "This API as Swagger 2.0 (no version or 2), OpenAPI 3.0 (3 or 3.0) or OpenAPI 3.1 (3.1)."
                    ),
                    "parameters": [
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["2", "2.0", "3", "3.0", "3.1"]},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The document.", "content": _json({"type": "object"})},
                        "default": server_error,
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(score),
            "securitySchemes": {
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The endpoint key (auth mode Key) or an Azure ML / Entra ID token.",
                }
            },
        },
    }


def _to_swagger2(schema):
    """OpenAPI 3 schema -> Swagger 2.0: refs move to #/definitions; oneOf (not in 2.0) is dropped, see swagger2()."""
    if isinstance(schema, list):
        return [_to_swagger2(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _to_swagger2(v) for k, v in schema.items() if k != "oneOf"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    return out


def _operation_to_swagger2(op: dict) -> dict:
    """An OpenAPI 3 operation in Swagger 2.0 terms: body parameter, inline parameter types, one schema per answer."""
    out = {k: v for k, v in op.items() if k not in ("requestBody", "parameters", "responses")}
    params = [{k: v for k, v in p.items() if k != "schema"} | p["schema"] for p in op.get("parameters", [])]
    if "requestBody" in op:
        body = op["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        params.append({"name": "body", "in": "body", "required": body["required"], "schema": schema})
    if params:
        out["parameters"] = params
    out["responses"] = {}
    for status, answer in op["responses"].items():
        (mime, media), = answer["content"].items()
        if mime != "application/json":
            out["produces"] = [mime]
        out["responses"][status] = {"description": answer["description"], "schema": media["schema"]}
        if "example" in media:
            out["responses"][status]["examples"] = {mime: media["example"]}
    return _to_swagger2(out)


def swagger2(score) -> dict:
    """The OpenAPI 3 document in Swagger 2.0 terms (the server's default answer, read by the older Azure ML tools)."""
    doc = openapi3(score)
    schemas = _to_swagger2(doc["components"]["schemas"])
    side, size = score.IMAGE_SIDE, score.IMAGE_SIZE
    # Swagger 2.0 has no oneOf: an image is a list of 28 to 784 entries (pixels or rows); the OpenAPI 3 documents
    # (?version=3) say exactly which three layouts. The error body is exactly one of {"error"} or {"message"}.
    schemas["Image"].update(
        {
            "type": "array",
            "items": {"description": "A pixel in [0, 1], or a row of pixels (see the description)."},
            "minItems": side,
            "maxItems": size,
        }
    )
    schemas["BadRequest"].update(
        {
            "type": "object",
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
        }
    )
    # Swagger 2.0 keeps a request example on the schema only.
    schemas["ServiceInput"]["example"] = doc["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ]
    return {
        "swagger": "2.0",
        "info": doc["info"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": "'Bearer <key>': the endpoint key (auth mode Key) or an Azure ML / Entra ID token.",
            }
        },
        "security": doc["security"],
        "paths": {path: {m: _operation_to_swagger2(op) for m, op in ops.items()} for path, ops in doc["paths"].items()},
        "definitions": schemas,
    }


def build(version: str, score=None) -> dict:
    """The document the server serves for ?version=<version> ("2", "3" or "3.1")."""
    score = score or _score_module()
    if version == "2":
        return swagger2(score)
    if version == "3":
        return openapi3(score)
    if version == "3.1":
        return openapi3(score, "3.1.0")
    raise ValueError(f"unknown version {version!r}; expected one of {', '.join(FILES)}")


def stale_files(folder: Path = HERE) -> list[str]:
    """The shipped files whose content differs from build() (formatting aside: prettier owns that)."""
    score = _score_module()
    stale = []
    for version, name in FILES.items():
        path = folder / name
        if not path.is_file() or json.loads(path.read_text()) != build(version, score):
            stale.append(name)
    return stale


def write(folder: Path = HERE) -> list[Path]:
    score = _score_module()
    paths = []
    for version, name in FILES.items():
        path = folder / name
        path.write_text(json.dumps(build(version, score), indent=2) + "\n")
        paths.append(path)
    prettier = HERE.parent / "node_modules" / ".bin" / "prettier"
    if prettier.exists() and shutil.which("node"):
        subprocess.run([str(prettier), "--log-level", "warn", "--write", *map(str, paths)], check=True)
    else:
        print("schema.py: prettier not found; format with: npx prettier --write scoring/swagger*.json", file=sys.stderr)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped files are current")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"schema.py: out of date: {', '.join(stale)}; run: python scoring/schema.py", file=sys.stderr)
            return 1
        print("schema.py: swagger files are current")
        return 0
    for path in write():
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
