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


def test_loading_in_a_thread_answers_probes_then_turns_ready(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",)), load_in_thread=True)
    lifecycle, client = app.extensions["lifecycle"], app.test_client()
    # TensorFlow is already imported in this process, so only a short window is "loading" here;
    # the gunicorn tests in tests/e2e/test_lifecycle.py see the whole start.
    first = client.get("/readyz")
    assert first.status_code in (200, 503)
    assert lifecycle.wait_ready(60)
    assert client.get("/readyz").json == {"status": "ready"}
    assert client.get("/healthz").status_code == 200
    lifecycle.close()


def test_loading_answers_503_with_retry_after(settings):
    from app.lifecycle import Lifecycle

    app = create_app(dataclasses.replace(settings, models=("tiny",)))
    client = app.test_client()
    registry = app.extensions["lifecycle"].registry()
    loading = Lifecycle(retry_after_s=1, drain_delay_s=0)  # as before the models have loaded
    app.extensions["lifecycle"] = loading
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "loading"
    assert resp.json["error"]["code"] == "loading" and resp.headers["Retry-After"] == "1"
    for resp in (client.post("/predict", json={"text": "cat"}), client.get("/v1/models")):
        assert resp.status_code == 503 and resp.json["error"]["code"] == "loading"
        assert resp.headers["Retry-After"] == "1"
    assert client.get("/healthz").json == {"status": "alive"}
    loading.set_loaded(registry)  # loaded, warming up: metadata answers, predictions wait
    assert client.get("/v1/models").json["models"][0]["ready"] is False
    assert client.post("/predict", json={"text": "cat"}).status_code == 503
    loading.set_ready()
    assert client.get("/readyz").status_code == 200
    assert client.post("/predict", json={"text": "cat"}).status_code == 200
    assert loading.start_draining() and not loading.start_draining()
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["status"] == "draining"
    assert resp.json["error"]["code"] == "draining"
    # Draining refuses nothing already routed here: requests are still served.
    assert client.post("/predict", json={"text": "cat"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    loading.close()


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
    app.extensions["lifecycle"].close()
