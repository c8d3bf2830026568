"""Every error status of the contract, in the contract's JSON shape."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

from app.errors import QueueFull
from tests.support.media import audio_bytes, image_bytes

GIF = b"GIF89a" + b"\x00" * 32


def _file(data: bytes, name: str = "upload"):
    return (io.BytesIO(data), name)


def _assert_error(resp, status: int, code: str, *, field: str | None = None, contains=""):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.json
    assert body["error"]["code"] == code
    assert contains in body["error"]["message"]
    assert body["request_id"] == resp.headers["X-Request-ID"]
    if field:
        assert body["error"]["field"] == field


CASES = [
    # (description, kwargs for client.post, status, code, field, message fragment)
    (
        "plain text body",
        dict(data="hello", content_type="text/plain"),
        415,
        "unsupported_media_type",
        None,
        "text/plain",
    ),
    (
        "malformed json",
        dict(data="{not json", content_type="application/json"),
        400,
        "bad_request",
        None,
        "JSON",
    ),
    ("json array", dict(json=[1, 2]), 400, "bad_request", None, "JSON object"),
    (
        "json lone surrogate",
        dict(data='{"text": "\\ud800"}', content_type="application/json"),
        422,
        "unprocessable_input",
        "text",
        "surrogate",
    ),
    ("json bad b64", dict(json={"image": {"b64": "***"}}), 400, "bad_request", "image", "base64"),
    ("json wrong type", dict(json={"image": 5}), 400, "bad_request", "image", "b64"),
    ("json image as text", dict(json={"audio": "AAA"}), 400, "bad_request", "audio", "b64"),
    (
        "image as a plain field",
        dict(data={"image": "abc"}, content_type="multipart/form-data"),
        415,
        "unsupported_media_type",
        "image",
        "not a recognised format",
    ),
    ("empty instances", dict(json={"instances": []}), 400, "bad_request", "instances", "non-empty"),
    (
        "unknown part",
        dict(data={"video": _file(b"x")}, content_type="multipart/form-data"),
        400,
        "unknown_part",
        "video",
        "audio, image, text, top_k",
    ),
    (
        "bad top_k",
        dict(data={"text": "cat", "top_k": "zero"}, content_type="multipart/form-data"),
        400,
        "bad_request",
        "top_k",
        "top_k",
    ),
    ("negative top_k", dict(json={"text": "cat", "top_k": -1}), 400, "bad_request", "top_k", ""),
    (
        "duplicate part",
        dict(data={"text": ["a", "b"]}, content_type="multipart/form-data"),
        400,
        "bad_request",
        "text",
        "2 times",
    ),
    (
        "multipart without boundary",
        dict(data=b"--x\r\n", content_type="multipart/form-data"),
        400,
        "bad_request",
        None,
        "boundary",
    ),
    (
        "truncated multipart",
        dict(
            data=b'--xx\r\nContent-Disposition: form-data; name="text"\r\n\r\ncat',
            content_type="multipart/form-data; boundary=xx",
        ),
        400,
        "bad_request",
        None,
        "malformed",
    ),
    (
        "gif image",
        dict(data={"image": _file(GIF)}, content_type="multipart/form-data"),
        415,
        "unsupported_media_type",
        "image",
        "GIF",
    ),
    (
        "image bytes as audio",
        dict(data={"audio": _file(image_bytes("PNG"))}, content_type="multipart/form-data"),
        415,
        "unsupported_media_type",
        "audio",
        "PNG",
    ),
    (
        "corrupt jpeg",
        dict(data={"image": _file(image_bytes("JPEG")[:40])}, content_type="multipart/form-data"),
        422,
        "unprocessable_input",
        "image",
        "image",
    ),
    (
        "empty image",
        dict(data={"image": _file(b"")}, content_type="multipart/form-data"),
        422,
        "unprocessable_input",
        "image",
        "empty",
    ),
    (
        "empty text",
        dict(data={"text": "   "}, content_type="multipart/form-data"),
        422,
        "unprocessable_input",
        "text",
        "empty",
    ),
    (
        "text not utf-8",
        dict(data={"text": _file(b"\xff\xfe\xfa")}, content_type="multipart/form-data"),
        422,
        "unprocessable_input",
        "text",
        "UTF-8",
    ),
    (
        "no modality",
        dict(data={"top_k": "3"}, content_type="multipart/form-data"),
        422,
        "missing_modality",
        None,
        "at least one",
    ),
    (
        "audio too long",
        dict(
            data={"audio": _file(audio_bytes("FLAC", rate=8000, seconds=61))},
            content_type="multipart/form-data",
        ),
        422,
        "unprocessable_input",
        "audio",
        "limit",
    ),
    (
        "text part over limit",
        dict(data={"text": "a " * 600}, content_type="multipart/form-data"),
        413,
        "payload_too_large",
        "text",
        "1000 bytes",
    ),
    (
        "too many instances",
        dict(json={"instances": [{"text": "a"}] * 9}),
        413,
        "payload_too_large",
        "instances",
        "limit of 8",
    ),
]


@pytest.mark.parametrize(
    "kwargs,status,code,field,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_predict_errors(client, kwargs, status, code, field, fragment):
    _assert_error(client.post("/predict", **kwargs), status, code, field=field, contains=fragment)


def test_body_over_limit_is_413(client):
    # A raw body: the test client would spool a large form to a temp file it never closes.
    body = (
        b'--xx\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n'
        + b"\xff\xd8\xff"
        + b"0" * (3 << 20)
        + b"\r\n--xx--\r\n"
    )
    resp = client.post("/predict", data=body, content_type="multipart/form-data; boundary=xx")
    _assert_error(resp, 413, "payload_too_large", contains="2097152 bytes")


@pytest.mark.parametrize(
    "path",
    ["/nope", "/v1/models/nope", "/v1/models/nope/predict", "/v1/models/tiny/versions/9/predict"],
)
def test_not_found(client, path):
    resp = client.post(path, json={"text": "cat"}) if path.endswith("predict") else client.get(path)
    _assert_error(resp, 404, "not_found")


def test_method_not_allowed(client):
    resp = client.get("/predict")
    _assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_queue_full_is_503_with_retry_after(app, client, monkeypatch):
    predictor = app.extensions["lifecycle"].registry().get("tiny")
    batcher, entered, gate = predictor.batcher, threading.Event(), threading.Event()
    run = batcher._run_batch

    def held(batch):
        entered.set()
        gate.wait(30)
        return run(batch)

    # Hold the batching thread inside one batch so the bounded queue fills up behind it.
    monkeypatch.setattr(batcher, "_run_batch", held)
    row = {n: np.zeros(s.shape, s.dtype) for n, s in predictor.bundle.inputs.items()}
    rows = [batcher.submit(row)]
    assert entered.wait(10)
    with pytest.raises(QueueFull):
        for _ in range(200):
            rows.append(batcher.submit(row))
    resp = client.post("/predict", json={"text": "cat"})
    gate.set()
    assert all(p.result(10) for p in rows)
    _assert_error(resp, 503, "queue_full")
    assert resp.headers["Retry-After"] == "1"


def test_audio_limits_come_from_settings(settings):
    import dataclasses

    from app import create_app

    app = create_app(
        dataclasses.replace(settings, models=("tiny",), warmup=False, max_audio_channels=1)
    )
    stereo = audio_bytes("WAV", rate=8000, seconds=0.3, channels=2)
    resp = app.test_client().post(
        "/predict", data={"audio": _file(stereo)}, content_type="multipart/form-data"
    )
    app.extensions["lifecycle"].close()
    _assert_error(resp, 422, "unprocessable_input", field="audio", contains="channel")
