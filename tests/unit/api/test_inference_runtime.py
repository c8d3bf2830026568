"""inference_runtime through the app: /v1/models shows the runtime, answers match TensorFlow's."""

from __future__ import annotations

import dataclasses
import io

import pytest

from app import create_app
from tests.support.media import audio_bytes, image_bytes

PARTS = {"image": image_bytes("JPEG"), "audio": audio_bytes("WAV"), "text": "the cat"}


def _post(client) -> dict:
    data = {k: v if isinstance(v, str) else (io.BytesIO(v), k) for k, v in PARTS.items()}
    resp = client.post("/predict", data=data, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.json
    return resp.json["outputs"]


def _serving(settings, **changes):
    app = create_app(dataclasses.replace(settings, models=("tiny",), **changes))
    assert app.extensions["lifecycle"].wait_ready(60)
    return app


@pytest.fixture(scope="module")
def tensorflow_app(settings):
    app = _serving(settings, inference_runtime="tensorflow")
    yield app
    app.extensions["lifecycle"].close()


def test_default_runtime_on_the_cpu_is_onnx(client):
    assert client.get("/v1/models/tiny").json["runtime"] == "onnxruntime"


def test_onnx_answers_like_tensorflow(tensorflow_app, client):
    tf_client = tensorflow_app.test_client()
    assert tf_client.get("/v1/models/tiny").json["runtime"] == "tensorflow"
    got, want = _post(client), _post(tf_client)
    assert [i["label"] for i in got["label"]] == [i["label"] for i in want["label"]]
    for a, b in zip(got["label"], want["label"], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)
    assert got["embedding"] == pytest.approx(want["embedding"], abs=1e-4)


def test_forced_parity_failure_serves_on_tensorflow(settings, tmp_path, caplog):
    app = _serving(
        settings, inference_runtime="onnx", onnx_cache_dir=str(tmp_path), onnx_parity_tolerance=0.0
    )
    try:
        client = app.test_client()
        assert client.get("/v1/models/tiny").json["runtime"] == "tensorflow"
        assert _post(client)["label"]
        assert "runs on TensorFlow: ONNX outputs differ from Keras" in caplog.text
    finally:
        app.extensions["lifecycle"].close()
