"""Triton's own Python client, unmodified, against real gunicorn serving the reference bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as httpclient
import yaml
from tritonclient.utils import InferenceServerException

from app.preprocessing import ImagePreprocessor
from tests.support.reference import BUNDLE, MANIFEST, SAMPLES
from tests.support.server import serving


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    """A client of the service as a new user starts it: repo defaults, the digits bundle."""
    with serving(tmp_path_factory.mktemp("v2") / "server.log") as url:
        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        yield client
        client.close()


def _bytes_input(name: str, files: list[str], shape: list[int]) -> httpclient.InferInput:
    data = np.array([(SAMPLES / f).read_bytes() for f in files], dtype=object).reshape(shape)
    return httpclient.InferInput(name, shape, "BYTES").set_data_from_numpy(data)


def test_health_and_metadata(triton):
    assert triton.is_server_live() and triton.is_server_ready()
    server = triton.get_server_metadata()
    assert {"binary_tensor_data", "classification"} <= set(server["extensions"])
    assert triton.is_model_ready("digits") and triton.is_model_ready("digits", "1")
    assert not triton.is_model_ready("nope") and not triton.is_model_ready("digits", "2")
    for meta in (triton.get_model_metadata("digits"), triton.get_model_metadata("digits", "1")):
        assert meta["name"] == "digits" and meta["versions"] == ["1"]
        inputs = {i["name"]: (i["datatype"], i["shape"]) for i in meta["inputs"]}
        assert inputs["image"] == ("FP32", [-1, 28, 28, 1])
        assert inputs["text"][0] == "INT32" and inputs["audio"][0] == "FP32"
        assert meta["outputs"] == [{"name": "digit", "datatype": "FP32", "shape": [-1, 10]}]


def test_every_image_in_one_binary_call(triton):
    files = [name for _, name in MANIFEST["image"]]
    result = triton.infer("digits", [_bytes_input("image", files, [len(files)])])
    probs = result.as_numpy("digit")
    assert probs.dtype == np.float32 and probs.shape == (len(files), 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    # The samples are real-world images (photos, light on dark): the recorded share is right.
    digits = np.array([int(d) for d, _ in MANIFEST["image"]])
    right = float(np.mean(probs.argmax(axis=1) == digits))
    recorded = json.loads((BUNDLE / "metrics.json").read_text())["samples"]["image"]["accuracy"]
    assert right == pytest.approx(recorded, abs=1e-4)
    assert result.get_response()["model_version"] == "1"


def test_three_images_in_binary_with_classification(triton):
    rows = MANIFEST["image"][::10][:3]
    output = httpclient.InferRequestedOutput("digit", class_count=2)
    result = triton.infer(
        "digits", [_bytes_input("image", [f for _, f in rows], [3])], outputs=[output]
    )
    top = result.as_numpy("digit")
    assert top.shape == (3, 2)
    for (digit, _), (best, second) in zip(rows, top, strict=True):
        score, index, label = best.decode().split(":")
        assert label == digit and index == digit and float(score) > 0.5
        assert float(second.decode().split(":")[0]) <= float(score)


def test_audio_as_n_by_1_with_json_outputs(triton):
    rows = MANIFEST["audio"]
    output = httpclient.InferRequestedOutput("digit", binary_data=False, class_count=1)
    inputs = [_bytes_input("audio", [f for _, f in rows], [len(rows), 1])]
    result = triton.infer("digits", inputs, outputs=[output], request_id="audio-1")
    assert result.get_response()["id"] == "audio-1"
    # JSON BYTES come back as str, binary ones as bytes: the client decodes only the latter.
    labels = [s.split(":")[2] for s in result.as_numpy("digit").reshape(-1)]
    assert labels == [d for d, _ in rows]


def test_texts_as_json(triton):
    rows = MANIFEST["text"]
    text = httpclient.InferInput("text", [len(rows)], "BYTES")
    text.set_data_from_numpy(np.array([t for _, t in rows], dtype=object), binary_data=False)
    output = httpclient.InferRequestedOutput("digit", binary_data=False)
    probs = triton.infer("digits", [text], outputs=[output]).as_numpy("digit")
    right = sum(str(p.argmax()) == d for p, (d, _) in zip(probs, rows, strict=True))
    # The same figure the reference model's card records for these samples through /predict.
    recorded = json.loads((BUNDLE / "metrics.json").read_text())["samples"]["text"]["accuracy"]
    assert right / len(rows) == pytest.approx(recorded, abs=1e-4)


def test_feature_tensor_in_json_beside_an_upload(triton):
    """Image features made by the service's own preprocessor, sent as FP32 JSON numbers."""
    spec = yaml.safe_load((BUNDLE / "bundle.yaml").read_text())["inputs"]["image"]
    preprocess = ImagePreprocessor(
        spec["params"], bundle_dir=BUNDLE, shape=(28, 28, 1), dtype="float32"
    )
    images = {d: f for d, f in MANIFEST["image"]}
    audios = {d: f for d, f in MANIFEST["audio"]}
    digits = ["3", "8"]
    features = np.stack([preprocess((SAMPLES / images[d]).read_bytes()) for d in digits])
    image = httpclient.InferInput("image", list(features.shape), "FP32")
    image.set_data_from_numpy(features, binary_data=False)
    audio = _bytes_input("audio", [audios[d] for d in digits], [2])
    probs = triton.infer("digits", [image, audio]).as_numpy("digit")
    assert [str(i) for i in probs.argmax(axis=1)] == digits


@pytest.mark.parametrize(
    ("model", "name", "datatype", "data", "status", "words"),
    [
        ("nope", "text", "BYTES", ["seven"], "404", "'nope' not found"),
        ("digits", "video", "BYTES", ["seven"], "400", "unknown input 'video'"),
        ("digits", "image", "BYTES", [b"GIF89a" + b"\0" * 32], "415", "GIF"),
        ("digits", "text", "BYTES", [" "], "422", "empty"),
    ],
)
def test_errors_reach_the_client(triton, model, name, datatype, data, status, words):
    tensor = httpclient.InferInput(name, [len(data)], datatype)
    tensor.set_data_from_numpy(np.array(data, dtype=object))
    with pytest.raises(InferenceServerException) as info:
        triton.infer(model, [tensor])
    assert info.value.status() == status and words in info.value.message()
