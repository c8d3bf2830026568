"""The seed-style baseline: the typical Flask + Keras demo endpoint, kept naive on purpose.

Serve it exactly like the real service, on the same gunicorn settings:
``BENCH_BUNDLE_DIR=bench/.cache/models/bench/1 gunicorn -c config/gunicorn.conf.py
bench.baseline_app:app``. It does what STYLE.md's "Avoid" list describes (model loaded at import,
``librosa.load``, features and tokens computed ad hoc in the view, ``model.predict`` per
request) so the benchmark can show what the service's design buys. It reads the bench bundle's
bundle.yaml only to produce the same feature shapes as the service.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import keras
import librosa
import numpy as np
import yaml
from flask import Flask, jsonify, request
from PIL import Image, ImageOps

BUNDLE_DIR = Path(os.environ.get("BENCH_BUNDLE_DIR", "bench/.cache/models/bench/1"))
SPEC = yaml.safe_load((BUNDLE_DIR / "bundle.yaml").read_text())
IMAGE = SPEC["inputs"]["image"]["params"]
AUDIO = SPEC["inputs"]["audio"]["params"]
TEXT = SPEC["inputs"]["text"]["params"]

# As in the demos: one model per process, loaded when the module is imported.
model = keras.saving.load_model(BUNDLE_DIR / "model.keras")
HEIGHT, WIDTH = next(tuple(t.shape[1:3]) for t in model.inputs if t.name == "image")
LABELS = (BUNDLE_DIR / "labels.txt").read_text().split()
VOCAB = {w: i for i, w in enumerate((BUNDLE_DIR / TEXT["vocabulary"]).read_text().splitlines())}

app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    """Decode, featurise and classify one multipart upload, all in the view."""
    img = Image.open(request.files["image"].stream).convert("RGB")
    img = ImageOps.fit(img, (WIDTH, HEIGHT), Image.BILINEAR)
    x_image = np.array(img, dtype=np.float32) / 127.5 - 1.0

    sr = AUDIO["sample_rate"]
    y, sr = librosa.load(request.files["audio"].stream, sr=sr, duration=AUDIO["duration_s"])
    y = librosa.util.fix_length(y, size=int(sr * AUDIO["duration_s"]))
    mfcc = librosa.feature.mfcc(
        y=y,
        sr=sr,
        n_mfcc=AUDIO["n_mfcc"],
        n_fft=AUDIO["n_fft"],
        hop_length=AUDIO["hop_length"],
        win_length=AUDIO["win_length"],
        n_mels=AUDIO["n_mels"],
        fmin=AUDIO["fmin"],
        fmax=AUDIO["fmax"],
    ).T
    x_audio = (mfcc - mfcc.mean(axis=0)) / np.maximum(mfcc.std(axis=0), 1e-5)

    words = re.findall(r"\w+", request.form.get("text", "").lower())
    ids = [VOCAB.get(w, 1) for w in words][: TEXT["max_length"]]
    x_text = np.array(ids + [0] * (TEXT["max_length"] - len(ids)), dtype=np.int32)

    probs = model.predict(
        {"image": x_image[None], "audio": x_audio[None], "text": x_text[None]}, verbose=0
    )[0]
    top = np.argsort(probs)[::-1][:5]
    return jsonify(
        {
            "success": True,
            "predictions": [{"label": LABELS[i], "score": float(probs[i])} for i in top],
        }
    )
