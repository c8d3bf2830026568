"""Training and serving compute the same features for a file: featurise equals a served request."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

from app import create_app
from app.settings import load_settings
from tests.support.reference import BUNDLE, SAMPLES
from tests.support.server import ROOT
from training.digits_features import INPUTS, featurise
from training.make_digits_data import read_manifest

TOLERANCE = 1e-4  # on probabilities: the response rounds its scores


@pytest.fixture(scope="module")
def digits_app():
    """The repo's default settings: the shipped digits bundle, as a new user serves it."""
    settings = dataclasses.replace(
        load_settings(environ={}), models_dir=str(ROOT / "models"), default_model="digits"
    )
    app = create_app(settings)
    assert app.extensions["lifecycle"].wait_ready(120)
    yield app
    app.extensions["lifecycle"].close()


@pytest.fixture(scope="module")
def trained_features():
    """What the trainer computes for every committed sample file (one worker: no fork)."""
    rows = [{**r, "split": "test"} for r in read_manifest(SAMPLES / "manifest.csv")]
    return rows, featurise(rows, SAMPLES, BUNDLE, workers=1)


def test_served_preprocessors_give_the_training_features(digits_app, trained_features):
    rows, features = trained_features
    bundle = digits_app.extensions["lifecycle"].registry().get("digits").bundle
    checked = 0
    for name, entry in INPUTS.items():
        mine = [r for r in rows if r["modality"] == entry["modality"]]
        served = bundle.inputs[name].preprocessor
        for row, trained in zip(mine, features[(name, "test")][0], strict=True):
            raw = row["item"] if row["modality"] == "text" else (SAMPLES / row["item"]).read_bytes()
            assert np.array_equal(served(raw), trained), row["item"]
            checked += 1
    assert checked == len(rows) >= 60


def test_a_served_request_scores_as_the_training_features_do(digits_app, trained_features):
    rows, features = trained_features
    bundle = digits_app.extensions["lifecycle"].registry().get("digits").bundle
    client = digits_app.test_client()
    zeros = {n: np.zeros((1, *e["shape"]), dtype=e["dtype"]) for n, e in INPUTS.items()}
    for name, entry in INPUTS.items():
        mine = [r for r in rows if r["modality"] == entry["modality"]]
        for row, trained in list(zip(mine, features[(name, "test")][0], strict=True))[::3]:
            want = bundle.model.model.predict_on_batch({**zeros, name: trained[None]})
            want = np.asarray(next(iter(want.values())) if isinstance(want, dict) else want)[0]
            if row["modality"] == "text":
                data = {"text": row["item"]}
            else:
                data = {name: (io.BytesIO((SAMPLES / row["item"]).read_bytes()), row["item"])}
            resp = client.post(
                "/predict", data={**data, "top_k": "10"}, content_type="multipart/form-data"
            )
            assert resp.status_code == 200, resp.get_data(as_text=True)
            got = {int(s["label"]): s["score"] for s in resp.get_json()["outputs"]["digit"]}
            assert np.abs(np.array([got[d] for d in range(10)]) - want).max() <= TOLERANCE
