"""Build the bench bundle: MobileNetV3-Small image tower, MFCC audio tower, text tower, fused.

Usage: ``python -m bench.build_bench_bundle OUT_DIR`` writes ``OUT_DIR/bench/1/``.
The weights are random (seeded): the bundle has realistic compute, not useful predictions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

NAME = "bench"
VERSION = 1
SEED = 1234
IMAGE_SHAPE = (224, 224, 3)
TEXT_LENGTH = 64
VOCAB_SIZE = 4000
LABELS = (
    *("speech", "music", "street", "nature", "vehicle"),
    *("animal", "kitchen", "office", "crowd", "silence"),
)
AUDIO_PARAMS: dict[str, Any] = {
    "sample_rate": 16000,
    "duration_s": 3.0,
    "features": "mfcc",
    "n_fft": 512,
    "hop_length": 160,
    "win_length": 400,
    "n_mels": 64,
    "n_mfcc": 40,
    "fmin": 20,
    "fmax": 8000,
    "normalize": "per_utterance",
    "layout": "time_major",
}
# center=True framing: 1 + samples // hop_length frames.
AUDIO_SHAPE = (1 + 48000 // 160, 40)
IMAGE_PARAMS: dict[str, Any] = {
    "layout": "channels_last",
    "resize": "crop",
    "interpolation": "bilinear",
    "scale": "symmetric",  # MobileNetV3 without its preprocessing layers expects [-1, 1]
}
TEXT_PARAMS: dict[str, Any] = {
    "vocabulary": "vocab.txt",
    "tokenizer": "word",
    "lowercase": True,
    "max_length": TEXT_LENGTH,
}
# Real words first so the workload text mostly hits the vocabulary; made-up words fill the rest.
ENGLISH = (
    "the a an and or of to in on at for with from by is are was were be been it this that "
    "these those he she they we you i my your our their his her its not no yes but if then so "
    "very more most some any all each every one two three four five six seven eight nine ten "
    "sound voice music street car dog bird wind rain water city park room door window light "
    "picture photo image camera recording audio clip noise quiet loud morning evening night day "
    "people person child woman man friend talk talking speak speaking sing singing walk walking "
    "near far under over behind small large big little old new red green blue yellow white black "
    "bright dark warm cold fast slow happy sad busy empty full open close heard seen taken"
).split()
SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou"))


def vocabulary(size: int = VOCAB_SIZE, seed: int = SEED) -> list[str]:
    """Pad and OOV tokens, common English words, then seeded made-up words up to ``size``."""
    rng = np.random.default_rng(seed)
    words = ["<pad>", "<unk>", *dict.fromkeys(ENGLISH)]
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def bundle_yaml() -> dict[str, Any]:
    """The bench bundle's bundle.yaml as a mapping."""
    return {
        "description": "benchmark: MobileNetV3-Small + MFCC conv + text pooling, random weights",
        "inputs": {
            "image": {"modality": "image", "missing": "zeros", "params": dict(IMAGE_PARAMS)},
            "audio": {"modality": "audio", "missing": "zeros", "params": dict(AUDIO_PARAMS)},
            "text": {"modality": "text", "missing": "zeros", "params": dict(TEXT_PARAMS)},
        },
        "outputs": {"label": {"kind": "classification", "labels": "labels.txt"}},
    }


def build_model(seed: int = SEED, vocab_size: int = VOCAB_SIZE) -> Any:
    """Three towers fused by concatenation and dense layers, softmax over ``LABELS``."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    image = keras.Input(IMAGE_SHAPE, name="image")
    audio = keras.Input(AUDIO_SHAPE, name="audio")
    text = keras.Input((TEXT_LENGTH,), name="text", dtype="int32")

    backbone = keras.applications.MobileNetV3Small(
        input_shape=IMAGE_SHAPE,
        include_top=False,
        weights=None,
        pooling="avg",
        include_preprocessing=False,
        name="image_tower",
    )
    image_features = layers.Dense(128, activation="relu", name="image_proj")(backbone(image))

    x = audio
    for i, (filters, kernel) in enumerate(((64, 5), (128, 3), (128, 3))):
        x = layers.Conv1D(filters, kernel, padding="same", use_bias=False, name=f"audio_conv{i}")(x)
        x = layers.BatchNormalization(name=f"audio_bn{i}")(x)
        x = layers.ReLU(name=f"audio_relu{i}")(x)
        x = layers.MaxPooling1D(2, name=f"audio_pool{i}")(x)
    audio_features = layers.Dense(64, activation="relu", name="audio_proj")(
        layers.GlobalAveragePooling1D(name="audio_gap")(x)
    )

    tokens = layers.Embedding(vocab_size, 64, name="text_embedding")(text)
    text_features = layers.Dense(64, activation="relu", name="text_proj")(
        layers.GlobalAveragePooling1D(name="text_gap")(tokens)
    )

    fused = layers.Concatenate(name="fuse")([image_features, audio_features, text_features])
    fused = layers.Dense(256, activation="relu", name="fused_dense")(fused)
    label = layers.Dense(len(LABELS), activation="softmax", name="label")(fused)
    return keras.Model({"image": image, "audio": audio, "text": text}, label, name=NAME)


def write_bundle(out_dir: Path, seed: int = SEED) -> Path:
    """Write ``out_dir/bench/1`` (replacing an older one) and return that folder."""
    path = Path(out_dir) / NAME / str(VERSION)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    words = vocabulary(seed=seed)
    build_model(seed, len(words)).save(path / "model.keras")
    (path / "bundle.yaml").write_text(yaml.safe_dump(bundle_yaml(), sort_keys=False))
    (path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (path / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: build the bundle into OUT_DIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="models folder; the bundle goes to bench/1/")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    path = write_bundle(args.out_dir, args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
