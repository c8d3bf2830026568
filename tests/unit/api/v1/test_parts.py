"""Parts: two images of one item, one text feeding two inputs, multilabel and regression heads,
over multipart, JSON, instances and v2; scores equal model.predict on inputs made independently."""

from __future__ import annotations

import base64
import dataclasses
import io
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from app import create_app
from tests.support.hf_tokenizers import write_tokenizer
from tests.support.media import image_bytes

SIZE, LENGTH = 8, 6
TAGS = ("red", "blue", "green")
FRONT, BACK = image_bytes("PNG", color=(200, 30, 30)), image_bytes("JPEG", color=(20, 40, 220))
TEXT = "a red shoe with a white sole"


def build_model():
    """Front and back photos and a BERT-style text tower; tags (sigmoid) and a price pair."""
    import keras

    keras.utils.set_random_seed(3)
    front = keras.Input((SIZE, SIZE, 3), name="front")
    back = keras.Input((SIZE, SIZE, 3), name="back")
    ids = keras.Input((LENGTH,), name="input_ids", dtype="int32")
    mask = keras.Input((LENGTH,), name="attention_mask", dtype="int32")
    tokens = keras.layers.Embedding(200, 4)(ids)
    weights = keras.layers.Reshape((LENGTH, 1))(keras.ops.cast(mask, "float32"))
    text = keras.layers.Flatten()(keras.layers.Multiply()([tokens, weights]))
    photos = [
        keras.layers.Flatten()(keras.layers.Conv2D(2, 3, strides=2)(x)) for x in (front, back)
    ]
    fused = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()([*photos, text]))
    outputs = {
        "tags": keras.layers.Dense(len(TAGS), activation="sigmoid", name="tags")(fused),
        "price": keras.layers.Dense(2, name="price")(fused),
    }
    inputs = {"front": front, "back": back, "input_ids": ids, "attention_mask": mask}
    return keras.Model(inputs, outputs)


BUNDLE = {
    "description": "two photos and a description of one item",
    "inputs": {
        "front": {"modality": "image", "part": "front", "params": {"resize": "stretch"}},
        "back": {
            "modality": "image",
            "part": "back",
            "missing": "required",
            "params": {"resize": "stretch"},
        },
        "input_ids": {
            "modality": "text",
            "params": {"tokenizer": "hf", "feed": "input_ids"},
        },
        "attention_mask": {
            "modality": "text",
            "params": {"tokenizer": "hf", "feed": "attention_mask"},
        },
    },
    "outputs": {
        "tags": {"kind": "multilabel", "labels": "labels.txt", "threshold": 0.3},
        "price": {"kind": "regression", "names": ["low", "high"]},
    },
}


@pytest.fixture(scope="module")
def served(tmp_path_factory, settings):
    """The app serving the parts bundle, and the Keras model it was saved from."""
    root = tmp_path_factory.mktemp("parts-models")
    bundle = root / "item" / "1"
    bundle.mkdir(parents=True)
    model = build_model()
    model.save(bundle / "model.keras")
    (bundle / "bundle.yaml").write_text(yaml.safe_dump(BUNDLE))
    (bundle / "labels.txt").write_text("\n".join(TAGS) + "\n")
    write_tokenizer(bundle / "tokenizer.json")
    app = create_app(
        dataclasses.replace(settings, models_dir=str(root), default_model="item", models=())
    )
    assert app.extensions["lifecycle"].wait_ready(120)
    yield app.test_client(), model, bundle
    app.extensions["lifecycle"].close()


def expected(model, bundle, front: bytes | None, back: bytes, text: str | None) -> dict:
    """model.predict on inputs made here with PIL and the tokenizers library directly."""
    from tokenizers import Tokenizer

    def pixels(data):
        if data is None:
            return np.zeros((SIZE, SIZE, 3), np.float32)
        image = Image.open(io.BytesIO(data)).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
        return np.asarray(image, np.float32) / 255.0

    ids = mask = np.zeros(LENGTH, np.int32)
    if text is not None:
        tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
        tokenizer.enable_truncation(LENGTH)
        tokenizer.enable_padding(length=LENGTH, pad_id=tokenizer.token_to_id("[PAD]"))
        encoding = tokenizer.encode(text)
        ids, mask = np.array(encoding.ids), np.array(encoding.attention_mask)
    batch = {
        "front": pixels(front)[None],
        "back": pixels(back)[None],
        "input_ids": ids[None].astype(np.int32),
        "attention_mask": mask[None].astype(np.int32),
    }
    return {k: v[0] for k, v in model.predict(batch, verbose=0).items()}


def check_answer(outputs: dict, want: dict) -> None:
    tags = outputs["tags"]
    scores = [t["score"] for t in tags]
    assert scores == sorted(scores, reverse=True)
    assert {t["label"] for t in tags} == {TAGS[i] for i in np.flatnonzero(want["tags"] >= 0.3)}
    for t in tags:
        assert t["score"] == pytest.approx(want["tags"][TAGS.index(t["label"])], abs=1e-4)
    assert set(outputs["price"]) == {"low", "high"}
    assert outputs["price"]["low"] == pytest.approx(want["price"][0], abs=1e-4)
    assert outputs["price"]["high"] == pytest.approx(want["price"][1], abs=1e-4)


def test_multipart_takes_each_part_by_its_name(served):
    client, model, bundle = served
    data = {
        "front": (io.BytesIO(FRONT), "f.png"),
        "back": (io.BytesIO(BACK), "b.jpg"),
        "text": TEXT,
    }
    resp = client.post("/predict", data=data, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.json
    assert resp.json["modalities"] == {"front": "provided", "back": "provided", "text": "provided"}
    check_answer(resp.json["outputs"], expected(model, bundle, FRONT, BACK, TEXT))


def test_optional_parts_are_zeros_and_errors_name_the_part(served):
    client, model, bundle = served
    gif = (io.BytesIO(b"GIF89a" + bytes(64)), "b.gif")
    resp = client.post("/predict", data={"back": gif}, content_type="multipart/form-data")
    assert resp.status_code == 415
    assert resp.json["error"]["field"] == "back"
    assert resp.json["error"]["message"].startswith("back: bytes are GIF")
    back = (io.BytesIO(BACK), "b.jpg")
    resp = client.post("/predict", data={"back": back}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.json
    assert resp.json["modalities"] == {"front": "missing", "back": "provided", "text": "missing"}
    check_answer(resp.json["outputs"], expected(model, bundle, None, BACK, None))


def test_json_and_instances(served):
    client, model, bundle = served
    b64 = {"front": {"b64": base64.b64encode(FRONT).decode()}}
    back = {"b64": base64.b64encode(BACK).decode()}
    resp = client.post("/predict", json={**b64, "back": back, "text": TEXT})
    assert resp.status_code == 200, resp.json
    check_answer(resp.json["outputs"], expected(model, bundle, FRONT, BACK, TEXT))
    resp = client.post(
        "/v1/models/item/predict",
        json={"instances": [{"back": back, "text": "blue shirt"}, {**b64, "back": back}]},
    )
    assert resp.status_code == 200, resp.json
    first, second = resp.json["predictions"]
    check_answer(first["outputs"], expected(model, bundle, None, BACK, "blue shirt"))
    check_answer(second["outputs"], expected(model, bundle, FRONT, BACK, None))


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"front": {"b64": base64.b64encode(FRONT).decode()}}, 422, "missing_modality", "back"),
        ({"image": {"b64": base64.b64encode(FRONT).decode()}}, 400, "unknown_part", "image"),
        ({"back": "not base64 but text"}, 400, "bad_request", "back"),
    ],
)
def test_part_errors(served, body, status, code, field):
    client, _, _ = served
    resp = client.post("/predict", json=body)
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["code"] == code
    assert resp.json["error"]["field"] == field
    if code == "unknown_part":
        assert "back, front, text, top_k" in resp.json["error"]["message"]


def test_urlencoded_refuses_an_image_part(served):
    client, _, _ = served
    resp = client.post(
        "/predict", data={"back": "x"}, content_type="application/x-www-form-urlencoded"
    )
    assert resp.status_code == 400
    assert "multipart" in resp.json["error"]["message"]


def test_v2_bytes_inputs_are_named_by_part(served):
    client, model, bundle = served
    # Text travels as a JSON string, the photos as binary tensor data.
    text = {"name": "text", "datatype": "BYTES", "shape": [1], "data": [TEXT]}
    header = {"inputs": [text], "outputs": [{"name": "price"}, {"name": "tags"}]}
    parts = []
    for name, data in (("front", FRONT), ("back", BACK)):
        blob = len(data).to_bytes(4, "little") + data
        header["inputs"].append(
            {
                "name": name,
                "datatype": "BYTES",
                "shape": [1],
                "parameters": {"binary_data_size": len(blob)},
            }
        )
        parts.append(blob)
    head = json.dumps(header).encode()
    resp = client.post(
        "/v2/models/item/infer",
        data=head + b"".join(parts),
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    assert resp.status_code == 200, resp.data
    outputs = {o["name"]: o for o in resp.json["outputs"]}
    want = expected(model, bundle, FRONT, BACK, TEXT)
    assert outputs["price"]["data"] == pytest.approx(want["price"].tolist(), abs=1e-4)
    assert outputs["tags"]["data"] == pytest.approx(want["tags"].tolist(), abs=1e-4)
    # A tokenizer's tensors may also come ready, by input name, beside the photos.
    resp = client.post(
        "/v2/models/item/infer",
        json={
            "inputs": [
                {"name": "input_ids", "datatype": "INT32", "shape": [1, LENGTH], "data": [0] * 6},
                {"name": "attention_mask", "datatype": "INT32", "shape": [1, 6], "data": [0] * 6},
                {"name": "text", "datatype": "BYTES", "shape": [1], "data": [TEXT]},
            ]
        },
    )
    assert resp.status_code == 400
    assert "fed by two tensors" in resp.json["error"]


def test_metadata_lists_the_parts(served):
    client, _, _ = served
    meta = client.get("/v1/models/item").json
    parts = {p["name"]: p for p in meta["parts"]}
    assert list(parts) == ["front", "back", "text"]
    assert parts["text"]["inputs"] == ["input_ids", "attention_mask"]
    assert parts["back"]["required"] and not parts["front"]["required"]
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["attention_mask"]["part"] == "text"
    assert inputs["attention_mask"]["feed"] == "attention_mask"
    outputs = {o["name"]: o for o in meta["outputs"]}
    assert outputs["tags"] == {
        "name": "tags",
        "kind": "multilabel",
        "shape": [None, 3],
        "labels": list(TAGS),
        "threshold": 0.3,
    }
    assert outputs["price"]["names"] == ["low", "high"]
    v2 = client.get("/v2/models/item").json
    raw = {i["name"]: i["parameters"]["raw_input"]["name"] for i in v2["inputs"]}
    assert raw == {"front": "front", "back": "back", "input_ids": "text", "attention_mask": "text"}
    document = client.get("/openapi.json").json
    form = document["components"]["schemas"]["PredictForm"]["properties"]
    assert form["front"] == form["image"] and form["back"] == form["image"]
