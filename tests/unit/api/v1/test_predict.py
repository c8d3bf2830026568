"""POST /predict and its model/version forms, through the Flask test client."""

from __future__ import annotations

import base64

import pytest

from tests.support.bundles import LABELS
from tests.support.media import audio_bytes, image_bytes


def _multipart(**parts):
    data = {}
    for name, value in parts.items():
        data[name] = value if isinstance(value, str) else (__import__("io").BytesIO(value), name)
    return {"data": data, "content_type": "multipart/form-data"}


def test_multipart_all_modalities(client):
    resp = client.post(
        "/predict",
        **_multipart(image=image_bytes("JPEG"), audio=audio_bytes("WAV"), text="the cat"),
    )
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["model"] == {"name": "tiny", "version": "2"}
    assert body["modalities"] == {"image": "provided", "audio": "provided", "text": "provided"}
    labels = body["outputs"]["label"]
    assert [item["label"] for item in labels] != [] and {i["label"] for i in labels} == set(LABELS)
    scores = [item["score"] for item in labels]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-3
    assert len(body["outputs"]["embedding"]) == 4
    assert set(body["timing_ms"]) == {"preprocess", "queue", "inference", "total"}
    assert resp.headers["X-Request-ID"] == body["request_id"]


def test_missing_modalities_reported_and_filled(client):
    resp = client.post("/predict", **_multipart(text="dog"))
    assert resp.status_code == 200
    assert resp.json["modalities"] == {"image": "missing", "audio": "missing", "text": "provided"}


def test_text_as_file_part_equals_form_field(client):
    a = client.post("/predict", **_multipart(text="the dog")).json
    b = client.post("/predict", **_multipart(text=b"the dog")).json
    assert a["outputs"] == b["outputs"]


@pytest.mark.parametrize("top_k,expected", [("1", 1), ("2", 2), ("99", 3)])
def test_top_k_query_and_form(client, top_k, expected):
    by_query = client.post(f"/predict?top_k={top_k}", **_multipart(text="cat")).json
    by_form = client.post("/predict", **_multipart(text="cat", top_k=top_k)).json
    assert len(by_query["outputs"]["label"]) == expected
    assert by_query["outputs"] == by_form["outputs"]


def test_named_and_pinned_versions_differ(client):
    parts = {"image": image_bytes("PNG")}
    v1 = client.post("/v1/models/tiny/versions/1/predict", **_multipart(**parts))
    v2 = client.post("/v1/models/tiny/predict", **_multipart(**parts))
    assert v1.json["model"]["version"] == "1" and v2.json["model"]["version"] == "2"
    assert v1.json["outputs"]["embedding"] != v2.json["outputs"]["embedding"]


def test_json_b64_matches_multipart(client):
    image, audio = image_bytes("WEBP"), audio_bytes("FLAC")
    by_json = client.post(
        "/predict",
        json={
            "text": "a bird",
            "image": {"b64": base64.b64encode(image).decode()},
            "audio": {"b64": base64.b64encode(audio).decode()},
        },
    )
    by_form = client.post("/predict", **_multipart(text="a bird", image=image, audio=audio))
    assert by_json.status_code == 200
    assert by_json.json["outputs"] == by_form.json["outputs"]


def test_json_instances_in_order(client):
    singles = [client.post("/predict", json={"text": t}).json["outputs"] for t in ("cat", "dog")]
    resp = client.post(
        "/predict", json={"instances": [{"text": "cat"}, {"text": "dog"}], "top_k": 2}
    )
    assert resp.status_code == 200
    predictions = resp.json["predictions"]
    assert [p["outputs"]["embedding"] for p in predictions] == [s["embedding"] for s in singles]
    assert all(len(p["outputs"]["label"]) == 2 for p in predictions)
    assert "request_id" in resp.json and "request_id" not in predictions[0]


def test_request_id_echoed(client):
    resp = client.post("/predict", json={"text": "cat"}, headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123" and resp.json["request_id"] == "abc-123"


def test_unsafe_request_id_replaced(client):
    resp = client.get("/healthz", headers={"X-Request-ID": "bad id\twith tabs"})
    assert resp.headers["X-Request-ID"] != "bad id\twith tabs"
    assert len(resp.headers["X-Request-ID"]) == 32


def test_required_modality_model(client):
    ok = client.post("/v1/models/strict/predict", json={"text": "cat"})
    assert ok.status_code == 200
    missing = client.post("/v1/models/strict/predict", **_multipart(image=image_bytes()))
    assert missing.status_code == 422
    assert missing.json["error"]["code"] == "missing_modality"
    assert missing.json["error"]["field"] == "text"


def test_no_retracing_under_mixed_concurrent_load(app):
    from concurrent.futures import ThreadPoolExecutor

    predictor = app.extensions["lifecycle"].registry().get("tiny")
    traces = predictor.compiled.trace_count
    bodies = [{"instances": [{"text": "cat"}] * n} for n in (1, 2, 3, 5, 8)] * 4

    def send(body):
        return app.test_client().post("/predict", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, bodies)) == {200}
    assert predictor.compiled.trace_count == traces
