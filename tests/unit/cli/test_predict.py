"""``predict``: one local prediction in /predict's JSON shape, errors in the contract's."""

from __future__ import annotations

import csv
import json

import pytest

from tests.support.cli import run_cli
from tests.support.server import ROOT

# Each test runs `python -m app predict` as a process.
pytestmark = pytest.mark.slow

SAMPLES = ROOT / "tests" / "data" / "digits"


def _first_sample(modality: str, digit: str) -> str:
    with open(SAMPLES / "manifest.csv", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        return next(r["item"] for r in rows if r["modality"] == modality and r["digit"] == digit)


def test_predict_a_held_out_sample_with_the_reference_bundle():
    image = SAMPLES / _first_sample("image", "4")
    result = run_cli("predict", "--image", str(image), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"request_id", "model", "outputs", "modalities", "timing_ms"}
    assert body["model"] == {"name": "digits", "version": "1"}
    assert [row["label"] for row in body["outputs"]["digit"]][0] == "4"
    assert len(body["outputs"]["digit"]) == 2
    assert body["modalities"] == {"audio": "missing", "image": "provided", "text": "missing"}


def test_predict_with_every_modality_and_a_bundle_folder(models_dir):
    audio = SAMPLES / _first_sample("audio", "6")
    image = SAMPLES / _first_sample("image", "6")
    result = run_cli(
        "predict",
        "--image",
        str(image),
        "--audio",
        str(audio),
        "--text",
        "six",
        "--model-dir",
        str(ROOT / "models" / "digits" / "1"),
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["outputs"]["digit"][0]["label"] == "6"
    assert len(body["outputs"]["digit"]) == 5  # the settings' default_top_k
    # A models folder is resolved as the service would: its default model, highest version.
    tiny = run_cli(
        "predict", "--text", "the cat", "--model-dir", str(models_dir), MMS_DEFAULT_MODEL="tiny"
    )
    assert tiny.returncode == 0, tiny.stderr
    assert json.loads(tiny.stdout)["model"] == {"name": "tiny", "version": "2"}


def test_bad_input_prints_the_contract_error_json():
    result = run_cli("predict", "--image", str(ROOT / "README.md"))
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["error"]["code"] == "unsupported_media_type"
    assert body["error"]["field"] == "image"
    assert len(body["request_id"]) == 32
    nothing = run_cli("predict")
    assert nothing.returncode == 1
    assert json.loads(nothing.stdout)["error"]["code"] == "missing_modality"
