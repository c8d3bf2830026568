"""The training code path end to end on a tiny data set: data, features, fit, bundle, served."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from app import create_app
from app.settings import load_settings
from tests.support.server import ROOT
from training.digits_audio import TEST_CONDITIONS as AUDIO_CONDITIONS
from training.digits_images import TEST_CONDITIONS as IMAGE_CONDITIONS
from training.digits_text import TEST_CONDITIONS as TEXT_CONDITIONS
from training.make_digits_data import read_manifest

TRAIN_TIMEOUT_S = 300


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_an_out_folder_that_is_no_bundle_version_is_refused_before_training(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "training.train_digits", "--data", str(tmp_path / "none"),
         "--out", str(tmp_path / "digits")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "a bundle folder is <name>/<version>" in done.stderr


def test_tiny_training_run_writes_a_bundle_the_service_answers_with(tmp_path):
    data, samples = tmp_path / "data", tmp_path / "samples"
    bundle = tmp_path / "models" / "digits" / "1"
    _run(
        "training.make_digits_data",
        str(data),
        "--scale",
        "0.01",
        "--workers",
        "1",
        "--samples",
        str(samples),
    )
    rows = read_manifest(data / "manifest.csv")
    splits = {(r["modality"], r["split"]) for r in rows}
    for modality in ("image", "audio", "text"):
        for split in ("train", "test", "corrupt_train", "corrupt_test"):
            assert (modality, split) in splits
    # Every real-world condition of each modality is in the held-out set.
    conditions = {r["source"] for r in rows if r["split"] == "test"}
    assert {"late_start", "babble_5_10db", "small_offcentre_photo", "scripts"} <= conditions
    out = _run(
        "training.train_digits",
        "--data",
        str(data),
        "--out",
        str(bundle),
        "--samples",
        str(samples),
        "--epochs",
        "1",
        "--audio-epochs",
        "1",
        "--image-epochs",
        "1",
        "--examples",
        "256",
    )
    assert "real-world image+audio+text" in out
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert metrics["calibration"]["temperature"] > 0
    measured = set(metrics["real_world"])
    for name, conditions in (
        ("image", IMAGE_CONDITIONS),
        ("audio", AUDIO_CONDITIONS),
        ("text", TEXT_CONDITIONS),
    ):
        assert {f"{name}/{c}" for c in conditions} <= measured
    assert "image+audio+text, 2 corrupted" in measured
    assert "Robustness on real-world inputs" in (bundle / "MODEL_CARD.md").read_text()

    # The same weights rescored without training: the same answers, and the saved model's raw
    # scores are the first run's calibrated ones (its temperature is folded in).
    rescored = tmp_path / "rescored" / "digits" / "1"
    _run("training.train_digits", "--data", str(data), "--out", str(rescored),
         "--samples", str(samples), "--model", str(bundle / "model.keras"))  # fmt: skip
    again = json.loads((rescored / "metrics.json").read_text())
    assert again["training"]["weights_from"] == str(bundle / "model.keras")
    for key, result in metrics["held_out"].items():
        assert again["held_out"][key]["accuracy"] == result["accuracy"], key
    for cases in ("single", "fused", "all"):
        first, rescored_ece = metrics["calibration"][cases], again["calibration"][cases]
        assert rescored_ece["ece_uncalibrated"] == pytest.approx(first["ece"], abs=2e-4), cases
    assert (rescored / "vocab.txt").read_text() == (bundle / "vocab.txt").read_text()
    # The record keeps the temperature the weights carry, times the one fitted again (not the
    # refit alone, as if the weights had never been scaled).
    assert again["calibration"]["temperature"] == pytest.approx(
        metrics["calibration"]["temperature"] * again["training"]["temperature_refit"], rel=1e-3
    )

    settings = dataclasses.replace(
        load_settings(environ={}), models_dir=str(tmp_path / "models"), default_model="digits"
    )
    app = create_app(settings)
    try:
        assert app.extensions["lifecycle"].wait_ready(120)
        client = app.test_client()
        manifest = read_manifest(samples / "manifest.csv")
        image = next(r["item"] for r in manifest if r["modality"] == "image")
        audio = next(r["item"] for r in manifest if r["modality"] == "audio")
        resp = client.post(
            "/predict",
            data={
                "image": (open(samples / image, "rb"), image),
                "audio": (open(samples / audio, "rb"), audio),
                "text": "sieben",
                "top_k": "10",
            },
            content_type="multipart/form-data",
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        scores = resp.get_json()["outputs"]["digit"]
        assert sorted(s["label"] for s in scores) == [str(d) for d in range(10)]
        assert abs(sum(s["score"] for s in scores) - 1) < 1e-3
    finally:
        app.extensions["lifecycle"].close()
