"""A bundle declaring the optional preprocessing steps, served through the Flask test client."""

from __future__ import annotations

import dataclasses
import io

import pytest

from app import create_app
from tests.support.bundles import build_model, bundle_yaml, write_bundle
from tests.support.media import digit_image, voice_burst, wav_bytes

RATE = 8000  # the tiny bundle's audio rate


@pytest.fixture(scope="module")
def client(settings, tmp_path_factory):
    spec = bundle_yaml()
    inputs = spec["inputs"]
    inputs["image"]["params"].update(polarity="auto", crop="content", crop_margin=0.25)
    inputs["audio"]["params"].update(trim="energy", trim_db=30, window="voiced")
    inputs["text"]["params"].update(map_digits=True, fold_punctuation=True)
    root = tmp_path_factory.mktemp("options-models")
    write_bundle(root, "clean", 1, model=build_model(seed=2), spec=spec)
    app = create_app(
        dataclasses.replace(settings, models_dir=str(root), models=(), default_model="clean")
    )
    yield app.test_client()
    app.extensions["lifecycle"].close()


def scores(client, **parts) -> list:
    data = {k: (io.BytesIO(v), k) if isinstance(v, bytes) else v for k, v in parts.items()}
    resp = client.post("/predict", data=data, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.json
    return resp.json["outputs"]["embedding"]


def test_metadata_shows_the_declared_options(client):
    inputs = {
        i["modality"]: i["preprocessing"] for i in client.get("/v1/models/clean").json["inputs"]
    }
    assert (inputs["image"]["polarity"], inputs["image"]["crop"]) == ("auto", "content")
    assert inputs["image"]["crop_margin"] == 0.25
    assert (inputs["audio"]["trim"], inputs["audio"]["trim_db"]) == ("energy", 30.0)
    assert inputs["audio"]["window_placement"] == "voiced"
    assert inputs["text"]["map_digits"] is True and inputs["text"]["fold_punctuation"] is True


def test_equivalent_uploads_get_the_same_answer(client):
    pen = scores(client, image=digit_image(frame=(1280, 720), height=80, centre=(900, 300)))
    chalk = scores(client, image=digit_image(ink=255, paper=0))
    assert pen == pytest.approx(chalk, abs=0.02)
    # Burst edges fall on hop boundaries in both clips, so the voiced windows are identical.
    late = wav_bytes(voice_burst(RATE, lead_s=1.5, burst_s=0.3, tail_s=0.7, f0=150), RATE)
    early = wav_bytes(voice_burst(RATE, lead_s=0.2, burst_s=0.3, tail_s=0.2, f0=150), RATE)
    assert scores(client, audio=late) == scores(client, audio=early)
    assert scores(client, text="the_cat!!") == scores(client, text="the cat")
