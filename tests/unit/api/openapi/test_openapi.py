"""GET /openapi.json and /docs: a valid OpenAPI 3.1 document of every route, rendered offline."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from openapi_spec_validator import validate

from app import create_app
from app.api.openapi.document import RULE_VARIABLE, build_document, json_body, operation
from app.api.openapi.schemas import Health
from app.settings import Settings

KEY = "k-docs-3e8a1f"
ASSET_TYPES = {".css": "text/css", ".js": "text/javascript"}


def undocumented(app: Flask, document: dict) -> list[str]:
    """Every 'METHOD path' Flask routes that the document does not describe."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = RULE_VARIABLE.sub(r"{\g<name>}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {rule.rule}")
    return missing


@pytest.fixture(scope="module")
def document(app):
    resp = app.test_client().get("/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.json


def test_document_is_valid_openapi_3_1(document):
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented(app, document):
    assert undocumented(app, document) == []
    assert len(document["paths"]) >= 10
    assert {"/docs", "/openapi.json", "/v1/models/{name}/versions/{version}/predict"} <= set(
        document["paths"]
    )


def test_a_route_without_an_operation_fails_the_coverage_check(app):
    bare = Flask("bare")
    bare.add_url_rule("/documented", "documented", operation("x", responses={})(lambda: ""))
    bare.add_url_rule("/forgotten/<int:n>", "forgotten", lambda n: "", methods=["PUT"])
    settings = app.extensions["settings"]
    assert undocumented(bare, build_document(bare, settings)) == ["PUT /forgotten/<int:n>"]


def test_predict_documents_three_bodies_and_every_error(document):
    for path in ("/predict", "/v1/models/{name}/predict"):
        op = document["paths"][path]["post"]
        assert set(op["requestBody"]["content"]) == {
            "multipart/form-data",
            "application/json",
            "application/x-www-form-urlencoded",
        }
        assert {"200", "400", "404", "413", "415", "422", "503"} <= set(op["responses"])
        error = op["responses"]["415"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
    version = document["paths"]["/v1/models/{name}/versions/{version}/predict"]["parameters"]
    assert {p["name"]: p["schema"]["type"] for p in version} == {
        "name": "string",
        "version": "integer",
    }
    form = document["components"]["schemas"]["PredictForm"]["properties"]
    assert form["image"]["format"] == "binary" and form["top_k"]["minimum"] == 1
    ids = [
        op["operationId"]
        for ops in document["paths"].values()
        for op in ops.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids))


def test_no_security_without_keys(document):
    assert "security" not in document and "securitySchemes" not in document["components"]
    assert "401" not in document["paths"]["/predict"]["post"]["responses"]


@pytest.fixture(scope="module")
def keyed_app(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False, api_keys=(KEY,)))
    yield app
    app.extensions["lifecycle"].close()


def test_with_keys_declares_schemes_and_leaves_docs_open(keyed_app):
    client = keyed_app.test_client()
    resp = client.get("/openapi.json")  # no key: documentation is an open path
    assert resp.status_code == 200
    doc = resp.json
    validate(doc)
    assert doc["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer KEY"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    assert doc["security"] == [{"bearer": []}, {"apiKey": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/docs"]["get"]["security"] == []
    predict = doc["paths"]["/predict"]["post"]
    assert "security" not in predict and "401" in predict["responses"]
    assert client.get("/docs").status_code == 200
    with client.get("/docs/assets/swagger-ui.css") as asset:
        assert asset.status_code == 200
    assert client.get("/v1/models").status_code == 401


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def test_docs_page_uses_only_local_assets_that_answer(client):
    resp = client.get("/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "SwaggerUIBundle" in page and '"openapi.json"' in page
    parser = _Links()
    parser.feed(page)
    assert len(parser.links) == 3
    for link in parser.links:
        url = urljoin("http://localhost/docs", link)
        assert urlsplit(url).netloc == "localhost", f"{link} is not served here"
        asset = client.get(urlsplit(url).path)
        suffix = "." + link.rsplit(".", 1)[-1]
        assert asset.status_code == 200, link
        assert asset.mimetype == ASSET_TYPES[suffix], link
        assert len(asset.get_data()) > 10_000, link
        asset.close()
    assert client.get(urljoin("/docs", "openapi.json")).status_code == 200


def test_unknown_docs_asset_is_404_json(client):
    resp = client.get("/docs/assets/index.html")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_operations_carry_their_schema_refs():
    app = Flask("one")
    view = operation("alive", responses={200: json_body(Health)})(lambda: "")
    app.add_url_rule("/alive", "alive", view)
    doc = build_document(app, Settings())
    schema = doc["paths"]["/alive"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"] == {"$ref": "#/components/schemas/Health"}
    assert doc["components"]["schemas"]["Health"]["properties"]["status"]["enum"] == [
        "alive",
        "ready",
    ]
    validate(doc)


def test_v2_operations_answer_errors_in_the_protocol_shape(document):
    infer = document["paths"]["/v2/models/{name}/versions/{version}/infer"]["post"]
    body = infer["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/V2InferRequest"}
    assert body["application/octet-stream"]["schema"]["format"] == "binary"
    assert [p["name"] for p in infer["parameters"]] == ["Inference-Header-Content-Length"]
    answer = infer["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "application/octet-stream"}
    assert "Inference-Header-Content-Length" in answer["headers"]
    v2_error = {"$ref": "#/components/schemas/V2Error"}
    for status in ("400", "404", "413", "415", "422", "503"):
        assert infer["responses"][status]["content"]["application/json"]["schema"] == v2_error
    assert "Retry-After" in infer["responses"]["503"]["headers"]
    ready = document["paths"]["/v2/health/ready"]["get"]["responses"]["503"]
    assert ready["content"]["application/json"]["schema"]["$ref"].endswith("/V2NotReady")
    schemas = document["components"]["schemas"]
    assert schemas["V2Error"]["required"] == ["error"]
    request_input = schemas["V2InputTensor"]["properties"]
    assert "BYTES" in request_input["datatype"]["enum"]
    outputs = schemas["V2OutputParameters"]["properties"]
    assert outputs["classification"]["minimum"] == 1 and outputs["binary_data"]["type"] == "boolean"
    # The native routes keep the contract's ErrorBody.
    native = document["paths"]["/v1/models/{name}"]["get"]["responses"]["404"]
    assert native["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_metrics_page_and_playground_files_are_documented(document):
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    page = document["paths"]["/"]["get"]["responses"]["200"]["content"]
    assert list(page) == ["text/html"]
    files = document["paths"]["/playground/{filename}"]["get"]["responses"]
    assert {"text/css", "text/javascript"} <= set(files["200"]["content"]) and "404" in files


def test_v2_error_schema_with_keys_covers_401(keyed_app):
    doc = keyed_app.test_client().get("/openapi.json").json
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]["responses"]["401"]
    assert infer["content"]["application/json"]["schema"]["$ref"].endswith("/V2Error")
    assert doc["paths"]["/v2/health/live"]["get"]["security"] == []
    assert doc["paths"]["/metrics"]["get"]["security"] == []
