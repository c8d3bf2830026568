"""Tiny real Keras bundles saved to disk, for loader, API and server tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LABELS = ("cat", "dog", "bird")
VOCAB = ("<pad>", "<unk>", "a", "cat", "dog", "bird", "the", "café", "七")
IMAGE_SHAPE = (16, 16, 3)
TEXT_LENGTH = 8
AUDIO_PARAMS = {
    "sample_rate": 8000,
    "duration_s": 0.5,
    "features": "mfcc",
    "n_fft": 256,
    "hop_length": 160,
    "n_mels": 20,
    "n_mfcc": 13,
}
AUDIO_SHAPE = (1 + 4000 // 160, 13)


def bundle_yaml(**overrides: Any) -> dict[str, Any]:
    """The bundle.yaml of the tiny model; ``overrides`` replace whole top-level keys."""
    spec = {
        "description": "tiny test model",
        "inputs": {
            "image": {
                "modality": "image",
                "missing": "zeros",
                "params": {"resize": "stretch", "scale": "unit"},
            },
            "audio": {"modality": "audio", "missing": "zeros", "params": dict(AUDIO_PARAMS)},
            "text": {
                "modality": "text",
                "missing": "zeros",
                "params": {"vocabulary": "vocab.txt", "tokenizer": "word"},
            },
        },
        "outputs": {
            "label": {"kind": "classification", "labels": "labels.txt"},
            "embedding": {"kind": "embedding"},
        },
    }
    spec.update(overrides)
    return spec


def build_model(seed: int = 0) -> Any:
    """Three small towers fused by concatenation, with a classification and an embedding head."""
    import keras

    keras.utils.set_random_seed(seed)
    image = keras.Input(IMAGE_SHAPE, name="image")
    audio = keras.Input(AUDIO_SHAPE, name="audio")
    text = keras.Input((TEXT_LENGTH,), name="text", dtype="int32")
    towers = [
        keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(image)),
        keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(audio)),
        keras.layers.GlobalAveragePooling1D()(
            keras.layers.Embedding(len(VOCAB), 8, name="tokens")(text)
        ),
    ]
    fused = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()(towers))
    outputs = {
        "label": keras.layers.Dense(len(LABELS), activation="softmax", name="label")(fused),
        "embedding": keras.layers.Dense(4, name="embedding")(fused),
    }
    return keras.Model({"image": image, "audio": audio, "text": text}, outputs)


def write_bundle(
    root: Path,
    name: str = "tiny",
    version: int = 1,
    *,
    model: Any = None,
    spec: dict[str, Any] | None = None,
    labels: tuple[str, ...] = LABELS,
) -> Path:
    """Save a bundle under ``root/name/version`` and return its folder."""
    path = root / name / str(version)
    path.mkdir(parents=True)
    (model or build_model()).save(path / "model.keras")
    (path / "bundle.yaml").write_text(yaml.safe_dump(spec or bundle_yaml(), allow_unicode=True))
    (path / "labels.txt").write_text("\n".join(labels) + "\n")
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path
