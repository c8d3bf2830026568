"""Health, readiness and model metadata routes."""

from __future__ import annotations

import dataclasses

from app import create_app


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "alive"}
    assert resp.headers["X-Request-ID"]


def test_readyz_when_ready(client):
    assert client.get("/readyz").json == {"status": "ready"}


def test_background_warm_up_turns_ready(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",)))
    registry = app.extensions["registry"]
    assert registry.wait_ready(60)
    assert app.test_client().get("/readyz").status_code == 200
    registry.close()


def test_not_ready_answers_503(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",)), warm_up_in_background=False)
    registry, client = app.extensions["registry"], app.test_client()
    registry._ready.clear()  # as before warm-up has finished
    for resp in (client.get("/readyz"), client.post("/predict", json={"text": "cat"})):
        assert resp.status_code == 503 and resp.json["error"]["code"] == "not_ready"
        assert resp.headers["Retry-After"] == "1"
    assert client.get("/healthz").status_code == 200
    registry.warmup_error = "RuntimeError: boom"
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "warmup_failed"
    registry.close()


def test_models_list(client):
    body = client.get("/v1/models").json
    assert body["default_model"] == "tiny"
    by_name = {m["name"]: m for m in body["models"]}
    assert by_name["tiny"] == {
        "name": "tiny",
        "versions": ["1", "2"],
        "served_version": "2",
        "ready": True,
    }
    assert by_name["strict"]["versions"] == ["1"]


def test_model_metadata(client):
    body = client.get("/v1/models/tiny").json
    assert body["versions"] == ["1", "2"] and body["served_version"] == "2"
    assert body["device"].startswith("CPU")
    inputs = {i["modality"]: i for i in body["inputs"]}
    assert inputs["image"]["shape"] == [None, 16, 16, 3] and inputs["image"]["dtype"] == "float32"
    assert inputs["image"]["accepted_formats"] == ["JPEG", "PNG", "WebP", "BMP"]
    assert inputs["audio"]["preprocessing"]["sample_rate"] == 8000
    assert inputs["text"]["dtype"] == "int32" and inputs["text"]["max_bytes"] == 1000
    assert inputs["text"]["required"] is False
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"]["labels"] == ["cat", "dog", "bird"]
    assert outputs["embedding"]["kind"] == "embedding" and "labels" not in outputs["embedding"]


def test_pinned_version_is_served(settings):
    app = create_app(
        dataclasses.replace(settings, models=("tiny",), pinned_versions={"tiny": 1}, warmup=False)
    )
    assert app.test_client().get("/v1/models/tiny").json["served_version"] == "1"
    resp = app.test_client().post("/predict", json={"text": "cat"})
    assert resp.json["model"]["version"] == "1"
    app.extensions["registry"].close()
