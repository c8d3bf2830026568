"""The digits bundle's features are what they were before the optional steps (off) were added.

tests/data/preprocessing_defaults/ was written by the code of commit c2fa36a (before those steps)
from tests/data/digits of then; the files are kept in samples/, that bundle's bundle.yaml and
vocabulary in bundle/, since the shipped bundle now uses the options. It holds a SHA-256 per image
and text feature array (Pillow and element-wise numpy: bit-exact on any machine), and the audio
features of three clips (WAV, MP3, FLAC), which go through a BLAS matmul and so are compared to
float32 rounding.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from app.preprocessing import PREPROCESSORS

ROOT = Path(__file__).resolve().parents[3]
RECORDED = ROOT / "tests" / "data" / "preprocessing_defaults"
BUNDLE = RECORDED / "bundle"
DATA = RECORDED / "samples"
SHAPES = {
    "image": ((28, 28, 1), "float32"),
    "audio": ((101, 40), "float32"),
    "text": ((32,), "int32"),
}
# Every new option spelt out at its default: the same features as leaving it out.
EXPLICIT_DEFAULTS = {
    "image": {"polarity": "fixed", "crop": "none"},
    "audio": {"trim": "none", "window": "start"},
    "text": {"map_digits": False, "fold_punctuation": False},
}


def preprocessors(explicit: bool) -> dict:
    spec = yaml.safe_load((BUNDLE / "bundle.yaml").read_text(encoding="utf-8"))
    out = {}
    for modality, (shape, dtype) in SHAPES.items():
        params = dict(spec["inputs"][modality]["params"])
        if explicit:
            params.update(EXPLICIT_DEFAULTS[modality])
        out[modality] = PREPROCESSORS[modality](params, bundle_dir=BUNDLE, shape=shape, dtype=dtype)
    return out


@pytest.mark.parametrize("explicit", [False, True], ids=["bundle-as-is", "defaults-spelt-out"])
def test_digits_features_are_unchanged(explicit):
    preps = preprocessors(explicit)
    digests = json.loads((RECORDED / "digests.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader((DATA / "manifest.csv").read_text(encoding="utf-8").splitlines()))
    checked = 0
    with np.load(RECORDED / "audio.npz") as audio:
        for row in rows:
            modality, item = row["modality"], row["item"]
            raw = item if modality == "text" else (DATA / item).read_bytes()
            features = preps[modality](raw)
            if modality == "audio":
                if item in audio:
                    np.testing.assert_allclose(features, audio[item], rtol=1e-5, atol=1e-5)
                    checked += 1
                continue
            assert hashlib.sha256(features.tobytes()).hexdigest() == digests[f"{modality}:{item}"]
            checked += 1
    assert checked == len(digests) + 3 == 63
