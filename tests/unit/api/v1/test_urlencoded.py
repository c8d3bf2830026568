"""Friendly inputs: urlencoded text forms (curl -d) and 415 for content types we do not take."""

from __future__ import annotations

import pytest

from tests.support.bundles import LABELS

ACCEPTED = "multipart/form-data, application/json, application/x-www-form-urlencoded"


def test_urlencoded_text_predicts(client):
    resp = client.post("/predict", data={"text": "the cat"})
    assert resp.request.content_type == "application/x-www-form-urlencoded"
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["modalities"] == {"image": "missing", "audio": "missing", "text": "provided"}
    assert {item["label"] for item in body["outputs"]["label"]} == set(LABELS)


def test_urlencoded_top_k_field_and_query(client):
    resp = client.post("/predict", data={"text": "dog", "top_k": "2"})
    assert resp.status_code == 200 and len(resp.json["outputs"]["label"]) == 2
    # As with multipart, the query parameter wins over the form field.
    resp = client.post("/v1/models/tiny/predict?top_k=1", data={"text": "dog", "top_k": "2"})
    assert resp.status_code == 200 and len(resp.json["outputs"]["label"]) == 1


def test_urlencoded_matches_multipart(client):
    form = client.post("/v1/models/tiny/versions/1/predict", data={"text": "café"}).json
    multipart = client.post(
        "/v1/models/tiny/versions/1/predict",
        data={"text": "café"},
        content_type="multipart/form-data",
    ).json
    assert form["outputs"] == multipart["outputs"]


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_urlencoded_file_modality_says_use_multipart(client, modality):
    resp = client.post("/predict", data={"text": "cat", modality: "@photo.jpg"})
    assert resp.status_code == 400
    error = resp.json["error"]
    assert error["code"] == "bad_request" and error["field"] == modality
    assert "multipart/form-data" in error["message"] and f"-F {modality}=@" in error["message"]


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"text": "cat", "top_k": "zero"}, 400, "bad_request", "top_k"),
        ({"text": ["cat", "dog"]}, 400, "bad_request", "text"),
        ({"video": "x"}, 400, "unknown_part", "video"),
        ({"text": "x" * 1001}, 413, "payload_too_large", "text"),
        ({"text": "   "}, 422, "unprocessable_input", "text"),
        ({}, 422, "missing_modality", None),
    ],
)
def test_urlencoded_errors(client, data, status, code, field):
    resp = client.post("/predict", data=data, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["code"] == code
    assert resp.json["error"].get("field") == field


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(data="hello", content_type="text/plain"),
        dict(data=b"\x89PNG", content_type="image/png"),
        dict(data="<a/>", content_type="application/xml"),
        dict(data=b""),
    ],
)
def test_unsupported_content_type_is_415_naming_the_accepted_ones(client, kwargs):
    resp = client.post("/predict", **kwargs)
    assert resp.status_code == 415, resp.json
    assert resp.json["error"]["code"] == "unsupported_media_type"
    assert ACCEPTED in resp.json["error"]["message"]
    assert resp.headers["Accept-Post"] == ACCEPTED
