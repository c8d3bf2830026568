"""The Open Inference Protocol routes through Flask's test client, over the tiny test bundles."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import numpy as np
import pytest

from app import create_app
from app.api.v2.codec import HEADER_LENGTH, serialize_bytes
from app.lifecycle import Lifecycle
from app.settings import BatchingSettings
from tests.support.bundles import AUDIO_SHAPE, IMAGE_SHAPE, LABELS, TEXT_LENGTH
from tests.support.media import audio_bytes, image_bytes

RED, BLUE = image_bytes("PNG", color=(200, 30, 30)), image_bytes("JPEG", color=(20, 40, 220))
TONE = audio_bytes("WAV", rate=8000, seconds=0.4)
KEY = "k-v2-test-3c1d"


def _bytes_input(name: str, elements: list[bytes], shape: list[int] | None = None) -> dict:
    """A BYTES input as binary tensor data: its JSON entry with the raw bytes under '_raw'."""
    raw = serialize_bytes(np.array(elements, dtype=object))
    return {
        "name": name,
        "datatype": "BYTES",
        "shape": shape or [len(elements)],
        "parameters": {"binary_data_size": len(raw)},
        "_raw": raw,
    }


def _post(client, header: dict, path: str = "/v2/models/tiny/infer", **kwargs):
    """POST a v2 request, as binary tensor data when an input carries '_raw' bytes."""
    inputs = header["inputs"]
    raw = b"".join(i.pop("_raw") for i in inputs if "_raw" in i)
    head = json.dumps(header).encode()
    headers = kwargs.pop("headers", {})
    if raw:
        headers[HEADER_LENGTH] = str(len(head))
    return client.post(path, data=head + raw, headers=headers, **kwargs)


def _binary_outputs(resp) -> tuple[dict, dict[str, bytes]]:
    """The JSON header of a binary response and each output's raw bytes."""
    size = int(resp.headers[HEADER_LENGTH])
    header, rest, chunks = json.loads(resp.data[:size]), resp.data[size:], {}
    for out in header["outputs"]:
        if "data" not in out:
            n = out["parameters"]["binary_data_size"]
            chunks[out["name"]], rest = rest[:n], rest[n:]
    assert rest == b""
    return header, chunks


def _outputs(resp) -> dict[str, dict]:
    assert resp.status_code == 200, resp.data
    return {out["name"]: out for out in resp.json["outputs"]}


def test_server_metadata_and_health(client):
    assert client.get("/v2").json == {
        "name": "multimodal-inference-service",
        "version": "1.0",
        "extensions": ["binary_tensor_data", "classification"],
    }
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    resp = client.get("/v2/models/tiny/ready")
    assert resp.status_code == 200 and resp.json == {"name": "tiny", "ready": True}
    assert client.get("/v2/models/tiny/versions/1/ready").status_code == 200
    assert resp.headers["X-Request-ID"]


@pytest.mark.parametrize("path", ["/v2/models/tiny", "/v2/models/tiny/versions/2"])
def test_model_metadata(client, path):
    meta = client.get(path).json
    assert meta["name"] == "tiny" and meta["versions"] == ["1", "2"]
    assert meta["platform"] == "tensorflow_keras"
    inputs = {i["name"]: (i["datatype"], i["shape"]) for i in meta["inputs"]}
    assert inputs == {
        "image": ("FP32", [-1, *IMAGE_SHAPE]),
        "audio": ("FP32", [-1, *AUDIO_SHAPE]),
        "text": ("INT32", [-1, TEXT_LENGTH]),
    }
    image = next(i for i in meta["inputs"] if i["name"] == "image")
    assert image["parameters"]["raw_input"] == {"name": "image", "datatype": "BYTES", "shape": [-1]}
    outputs = {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]}
    assert outputs == {"label": ("FP32", [-1, 3]), "embedding": ("FP32", [-1, 4])}


def test_bytes_inputs_answer_as_predict_does_for_several_samples(client):
    resp = _post(
        client,
        {
            "id": "req-7",
            "inputs": [
                {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["the cat", "dog"]},
                _bytes_input("image", [RED, BLUE]),
                _bytes_input("audio", [TONE, TONE], shape=[2, 1]),
            ],
        },
    )
    outputs = _outputs(resp)
    assert resp.json["model_name"] == "tiny" and resp.json["model_version"] == "2"
    assert resp.json["id"] == "req-7" and HEADER_LENGTH not in resp.headers
    label = outputs["label"]
    assert label["datatype"] == "FP32" and label["shape"] == [2, 3]
    assert outputs["embedding"]["shape"] == [2, 4]
    probs = np.array(label["data"]).reshape(2, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # The same uploads through /v1 give the same numbers: one preprocessing, one model.
    for i, (text, image) in enumerate([("the cat", RED), ("dog", BLUE)]):
        native = client.post(
            "/v1/models/tiny/predict?top_k=3",
            data={"text": text, "image": (_file(image), "i"), "audio": (_file(TONE), "a")},
        ).json["outputs"]
        scores = {s["label"]: s["score"] for s in native["label"]}
        assert [scores[name] for name in LABELS] == pytest.approx(probs[i].tolist(), abs=2e-6)
        emb = np.array(outputs["embedding"]["data"]).reshape(2, 4)[i]
        assert native["embedding"] == pytest.approx(emb.tolist(), abs=2e-6)


def _file(data: bytes):
    import io

    return io.BytesIO(data)


def test_feature_tensors_and_uploads_mix(app, client):
    """Image features computed by the bundle's own preprocessor equal sending the image itself."""
    spec = app.extensions["lifecycle"].registry().get("tiny", 1).bundle.inputs["image"]
    features = np.stack([spec.preprocessor(RED), spec.preprocessor(BLUE)])
    text = {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["cat", "bird"]}
    by_upload = _outputs(
        _post(
            client,
            {"inputs": [dict(text), _bytes_input("image", [RED, BLUE])]},
            path="/v2/models/tiny/versions/1/infer",
        )
    )
    raw = features.astype("<f4").tobytes()
    by_features = _outputs(
        _post(
            client,
            {
                "inputs": [
                    dict(text),
                    {
                        "name": "image",
                        "datatype": "FP32",
                        "shape": list(features.shape),
                        "parameters": {"binary_data_size": len(raw)},
                        "_raw": raw,
                    },
                ]
            },
            path="/v2/models/tiny/versions/1/infer",
        )
    )
    assert by_features["label"]["data"] == pytest.approx(by_upload["label"]["data"], abs=1e-6)
    # Text as token ids in JSON (INT32 [N, 8]): "cat" is id 3, "bird" id 5 in the test vocabulary.
    ids = [[3] + [0] * (TEXT_LENGTH - 1), [5] + [0] * (TEXT_LENGTH - 1)]
    by_ids = _outputs(
        _post(
            client,
            {
                "inputs": [
                    {"name": "text", "datatype": "INT32", "shape": [2, TEXT_LENGTH], "data": ids},
                    _bytes_input("image", [RED, BLUE]),
                ]
            },
            path="/v2/models/tiny/versions/1/infer",
        )
    )
    assert by_ids["label"]["data"] == pytest.approx(by_upload["label"]["data"], abs=1e-6)


def test_classification_and_requested_outputs(client):
    text = {"name": "text", "datatype": "BYTES", "shape": [3], "data": ["cat", "dog", "bird"]}
    full = _outputs(_post(client, {"inputs": [dict(text)]}))
    probs = np.array(full["label"]["data"]).reshape(3, 3)
    resp = _post(
        client,
        {
            "inputs": [dict(text)],
            "outputs": [
                {"name": "label", "parameters": {"classification": 2}},
                {"name": "embedding", "parameters": {"classification": 1}},
            ],
        },
    )
    outputs = _outputs(resp)
    label = outputs["label"]
    assert label["datatype"] == "BYTES" and label["shape"] == [3, 2]
    for row, strings in zip(probs, np.array(label["data"]).reshape(3, 2), strict=True):
        best = np.argsort(-row, kind="stable")[:2]
        assert list(strings) == [f"{row[i]:f}:{i}:{LABELS[i]}" for i in best]
    # An output without labels classifies too, as Triton does: "value:index".
    emb = np.array(full["embedding"]["data"]).reshape(3, 4)
    assert outputs["embedding"]["data"] == [f"{r.max():f}:{int(r.argmax())}" for r in emb]
    only = _outputs(_post(client, {"inputs": [dict(text)], "outputs": [{"name": "embedding"}]}))
    assert list(only) == ["embedding"] and only["embedding"]["data"] == full["embedding"]["data"]


@pytest.mark.parametrize(
    ("request_params", "output_params", "binary"),
    [
        ({"binary_data_output": True}, None, {"label", "embedding"}),
        ({}, {"label": {"binary_data": True}, "embedding": {}}, {"label"}),
        (
            {"binary_data_output": True},
            {"label": {"binary_data": False}, "embedding": {}},
            {"embedding"},
        ),
        ({}, {"label": {"binary_data": True, "classification": 2}}, {"label"}),
    ],
)
def test_binary_outputs(client, request_params, output_params, binary):
    text = {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["cat", "dog"]}
    expected = _outputs(_post(client, {"inputs": [dict(text)]}))
    header = {"inputs": [dict(text)], "parameters": request_params}
    if output_params is not None:
        header["outputs"] = [{"name": n, "parameters": p} for n, p in output_params.items()]
    resp = _post(client, header)
    assert resp.status_code == 200 and resp.mimetype == "application/octet-stream"
    head, chunks = _binary_outputs(resp)
    for out in head["outputs"]:
        name = out["name"]
        if name not in binary:
            assert out["data"] == expected[name]["data"]
            continue
        assert "data" not in out
        if out["datatype"] == "FP32":
            values = np.frombuffer(chunks[name], "<f4")
            assert values.tolist() == pytest.approx(expected[name]["data"], abs=1e-6)
        else:
            assert out["shape"] == [2, 2] and chunks[name].startswith(b"\x0e\x00\x00\x00")


def test_loading_and_draining(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False))
    client = app.test_client()
    registry = app.extensions["lifecycle"].registry()
    loading = Lifecycle(retry_after_s=1, drain_delay_s=0)
    app.extensions["lifecycle"] = loading
    infer = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["cat"]}]}
    assert client.get("/v2/health/live").status_code == 200
    for resp in (
        client.get("/v2/health/ready"),
        client.get("/v2/models/tiny"),
        client.get("/v2/models/tiny/ready"),
        client.post("/v2/models/tiny/infer", json=infer),
    ):
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        assert isinstance(resp.json["error"], str)
    loading.set_loaded(registry)  # warming up: metadata answers, readiness and inference wait
    assert client.get("/v2/models/tiny").status_code == 200
    assert client.get("/v2/models/tiny/ready").status_code == 503
    assert client.post("/v2/models/tiny/infer", json=infer).status_code == 503
    loading.set_ready()
    assert client.get("/v2/health/ready").json == {"ready": True}
    loading.start_draining()
    resp = client.get("/v2/health/ready")
    assert resp.status_code == 503 and "draining" in resp.json["error"]
    # Draining refuses nothing already routed here.
    assert client.post("/v2/models/tiny/infer", json=infer).status_code == 200
    loading.close()


def _text(n: int = 1, value: str = "cat") -> dict:
    return {"name": "text", "datatype": "BYTES", "shape": [n], "data": [value] * n}


GIF = b"GIF89a" + b"\0" * 64
ERRORS = [
    # (what, request header or raw body, path, status, words in the message)
    ("unknown model", {"inputs": [_text()]}, "/v2/models/nope/infer", 404, "'nope' not found"),
    (
        "unknown version",
        {"inputs": [_text()]},
        "/v2/models/tiny/versions/9/infer",
        404,
        "no version 9",
    ),
    ("bad version", {"inputs": [_text()]}, "/v2/models/tiny/versions/x/infer", 404, "'x'"),
    ("malformed JSON", b"{oops", None, 400, "not valid JSON"),
    (
        "unknown input",
        {"inputs": [{**_text(), "name": "video"}]},
        None,
        400,
        "unknown input 'video'",
    ),
    (
        "wrong dtype",
        {"inputs": [{"name": "text", "datatype": "FP32", "shape": [1, 8], "data": [0] * 8}]},
        None,
        400,
        "model takes INT32 [-1, 8]",
    ),
    (
        "wrong shape",
        {"inputs": [{"name": "text", "datatype": "INT32", "shape": [1, 4], "data": [0] * 4}]},
        None,
        400,
        "got INT32 [1, 4]",
    ),
    (
        "two sources",
        {
            "inputs": [
                _text(),
                {"name": "text", "datatype": "INT32", "shape": [1, 8], "data": [0] * 8},
            ]
        },
        None,
        400,
        "fed by two tensors",
    ),
    (
        "batch sizes differ",
        {"inputs": [_text(2), _bytes_input("image", [RED])]},
        None,
        400,
        "has 1 samples but another has 2",
    ),
    ("BYTES shape", {"inputs": [{**_text(2), "shape": [1, 2]}]}, None, 400, "[N] or [N, 1]"),
    ("no samples", {"inputs": [{**_text(0), "shape": [0]}]}, None, 400, "no samples"),
    (
        "unknown output",
        {"inputs": [_text()], "outputs": [{"name": "logits"}]},
        None,
        400,
        "unknown output 'logits'",
    ),
    (
        "bad classification",
        {"inputs": [_text()], "outputs": [{"name": "label", "parameters": {"classification": 0}}]},
        None,
        400,
        "positive integer",
    ),
    (
        "bad binary_data",
        {"inputs": [_text()], "outputs": [{"name": "label", "parameters": {"binary_data": "yes"}}]},
        None,
        400,
        "true or false",
    ),
    ("too many samples", {"inputs": [_text(9)]}, None, 413, "over the limit of 8"),
    ("text over its limit", {"inputs": [_text(1, "a" * 1001)]}, None, 413, "1000 bytes"),
    ("GIF image", {"inputs": [_bytes_input("image", [GIF])]}, None, 415, "GIF"),
    ("corrupt PNG", {"inputs": [_bytes_input("image", [RED[:40]])]}, None, 422, "image"),
    ("empty text", {"inputs": [_text(1, " ")]}, None, 422, "empty"),
    (
        "required modality missing",
        {"inputs": [_bytes_input("image", [RED])]},
        "/v2/models/strict/infer",
        422,
        "text is required",
    ),
]


@pytest.mark.parametrize(
    ("body", "path", "status", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_infer_errors(client, body, path, status, words):
    path = path or "/v2/models/tiny/infer"
    if isinstance(body, bytes):
        resp = client.post(path, data=body)
    else:
        resp = _post(client, _copy(body), path=path)
    assert resp.status_code == status, resp.data
    assert list(resp.json) == ["error"] and words in resp.json["error"], resp.json


def _copy(header: dict) -> dict:
    """The table's request, copied: _post consumes the '_raw' bytes of its inputs."""
    return {**header, "inputs": [dict(i) for i in header["inputs"]]}


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v2/models/tiny/infer", 405, "OPTIONS, POST"),
        ("POST", "/v2/health/live", 405, "GET, HEAD, OPTIONS"),
        ("DELETE", "/v2/models/tiny", 405, "GET, HEAD, OPTIONS"),
        ("POST", "/v2", 405, "GET, HEAD, OPTIONS"),
        ("PUT", "/v2/models/tiny/versions/1/infer", 405, "OPTIONS, POST"),
        ("GET", "/v2/", 404, None),
        ("GET", "/v2/repository/index", 404, None),
        ("GET", "/v2/models/nope", 404, None),
        ("GET", "/v2/models/nope/ready", 404, None),
        ("GET", "/v2/models/tiny/versions/3/ready", 404, None),
        ("GET", "/v2/models/tiny/versions/0", 404, None),
        # str.isdigit() holds for these, but int() refuses the first and reads the second as 1.
        ("GET", "/v2/models/tiny/versions/%C2%B2", 404, None),
        ("GET", "/v2/models/tiny/versions/%D9%A1", 404, None),
        ("GET", "/v2/models/tiny/versions/01", 404, None),
    ],
)
def test_route_errors_keep_the_v2_shape(client, method, path, status, allow):
    resp = client.open(path, method=method)
    assert resp.status_code == status and list(resp.json) == ["error"]
    assert resp.headers.get("Allow") == allow


def test_only_v2_paths_get_the_v2_shape_and_no_rule_catches_all(app, client):
    for path in ("/v2x", "/v1/v2", "/nope/v2"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found", path
    resp = client.post("/v1/models")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"
    assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    v2_rules = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/v2")]
    assert len(v2_rules) == 9 and not any("<path:" in rule for rule in v2_rules), v2_rules


def test_body_and_encoding_errors(client):
    resp = client.post("/v2/models/tiny/infer", data=b"x" * (3 * 1024 * 1024))
    assert resp.status_code == 413 and "over its limit" in resp.json["error"]
    resp = client.post(
        "/v2/models/tiny/infer", data=b"\x1f\x8b", headers={"Content-Encoding": "gzip"}
    )
    assert resp.status_code == 415 and "gzip" in resp.json["error"]


@pytest.fixture
def held_app(settings):
    """Batches wait on a gate; one row a batch, two queued at most, two requests in flight."""
    app = create_app(
        dataclasses.replace(
            settings,
            models=("tiny",),
            warmup=False,
            max_in_flight=2,
            request_timeout_s=2.0,
            batching=BatchingSettings(max_batch_size=1, max_delay_ms=1.0, max_queue_size=2),
        )
    )
    batcher = app.extensions["lifecycle"].registry().get("tiny").batcher
    gate, run, ran = threading.Event(), batcher._run_batch, []

    def held(batch):
        gate.wait(30)
        ran.append(len(next(iter(batch.values()))))
        return run(batch)

    batcher._run_batch = held
    yield app, gate, ran
    gate.set()
    app.extensions["lifecycle"].close()


def test_overload_is_503_with_retry_after(held_app):
    app, gate, ran = held_app
    holders = [
        threading.Thread(target=lambda: _post(app.test_client(), {"inputs": [_text()]}))
        for _ in range(2)
    ]
    for t in holders:
        t.start()
    time.sleep(0.2)
    resp = _post(app.test_client(), {"inputs": [_text()]})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert "already holds 2 requests" in resp.json["error"]
    gate.set()
    for t in holders:
        t.join(5)
    assert ran == [1, 1]
    gate.clear()
    # Four samples: one enters the held batch, two fill the queue, the fourth finds it full.
    resp = _post(app.test_client(), {"inputs": [_text(4)]})
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert "queue is full" in resp.json["error"]
    gate.set()
    time.sleep(0.3)
    # The refused request's queued rows are dropped, not run for nobody (the first may have run).
    assert ran in ([1, 1], [1, 1, 1])


@pytest.fixture(scope="module")
def keyed(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False, api_keys=(KEY,)))
    yield app.test_client()
    app.extensions["lifecycle"].close()


def test_api_keys_cover_v2_but_not_its_health_routes(keyed):
    for path in ("/v2", "/v2/models/tiny", "/v2/models/tiny/ready", "/v2/nope"):
        resp = keyed.get(path)
        assert resp.status_code == 401 and list(resp.json) == ["error"]
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    resp = _post(keyed, {"inputs": [_text()]})
    assert resp.status_code == 401
    assert keyed.get("/v2/health/live").status_code == 200
    assert keyed.get("/v2/health/ready").status_code == 200
    headers = {"Authorization": f"Bearer {KEY}"}
    assert keyed.get("/v2/models/tiny", headers=headers).status_code == 200
    assert _post(keyed, {"inputs": [_text()]}, headers=headers).status_code == 200


def test_rate_limit_is_429_in_the_v2_shape(settings):
    app = create_app(
        dataclasses.replace(settings, models=("tiny",), warmup=False, rate_limit="2/minute")
    )
    client = app.test_client()
    assert [client.get("/v2/models/tiny").status_code for _ in range(2)] == [200, 200]
    resp = client.get("/v2/models/tiny")
    assert resp.status_code == 429 and list(resp.json) == ["error"]
    assert int(resp.headers["Retry-After"]) >= 1
    assert client.get("/v2/health/ready").status_code == 200  # open paths are not counted
    app.extensions["lifecycle"].close()
