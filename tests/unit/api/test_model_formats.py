"""One model saved as .keras, .h5 and a SavedModel answers the same through the service."""

from __future__ import annotations

import dataclasses
import io

import pytest
import yaml

from app import create_app
from tests.support.bundles import LABELS, VOCAB, build_model, bundle_yaml
from tests.support.media import audio_bytes, image_bytes

FORMATS = {"keras": "model.keras", "h5": "model.h5", "saved_model": "saved_model"}
PARTS = {"image": image_bytes("JPEG"), "audio": audio_bytes("WAV", rate=8000), "text": "a cat"}


@pytest.fixture(scope="module")
def client(tmp_path_factory, settings):
    """An app serving the same weights in every format, as models named after the format."""
    root = tmp_path_factory.mktemp("format-models")
    model = build_model(seed=4)
    for name, file_name in FORMATS.items():
        bundle = root / name / "1"
        bundle.mkdir(parents=True)
        if name == "saved_model":
            model.export(str(bundle / file_name), format="tf_saved_model", verbose=False)
        else:
            model.save(bundle / file_name)
        (bundle / "bundle.yaml").write_text(yaml.safe_dump(bundle_yaml(), allow_unicode=True))
        (bundle / "labels.txt").write_text("\n".join(LABELS) + "\n")
        (bundle / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    app = create_app(
        dataclasses.replace(
            settings,
            models_dir=str(root),
            default_model="keras",
            models=(),
            onnx_cache_dir=str(root / "onnx-cache"),
        )
    )
    assert app.extensions["lifecycle"].wait_ready(180)
    yield app.test_client()
    app.extensions["lifecycle"].close()


def _predict(client, name: str) -> dict:
    data = {k: v if isinstance(v, str) else (io.BytesIO(v), k) for k, v in PARTS.items()}
    resp = client.post(
        f"/v1/models/{name}/predict?top_k=3", data=data, content_type="multipart/form-data"
    )
    assert resp.status_code == 200, resp.json
    return resp.json["outputs"]


def test_every_format_answers_the_same_scores(client):
    answers = {name: _predict(client, name) for name in FORMATS}
    reference = answers["keras"]
    for name, outputs in answers.items():
        assert [x["label"] for x in outputs["label"]] == [x["label"] for x in reference["label"]]
        for got, want in zip(outputs["label"], reference["label"], strict=True):
            assert got["score"] == pytest.approx(want["score"], abs=1e-5), name
        assert outputs["embedding"] == pytest.approx(reference["embedding"], abs=1e-5), name


def test_metadata_says_the_format_and_runtime(client):
    for name in FORMATS:
        meta = client.get(f"/v1/models/{name}").json
        assert meta["model_format"] == name
        # Plain float and int inputs: ONNX Runtime serves every format on the CPU.
        assert meta["runtime"] == "onnxruntime", meta.get("runtime_note")
        # A SavedModel's signature keeps no order: its names are sorted.
        assert {i["name"] for i in meta["inputs"]} == {"image", "audio", "text"}
        assert {o["name"] for o in meta["outputs"]} == {"label", "embedding"}
