"""Small untrained Keras models built the ways their authors build them, saved as users save them,
and the asset files a user adds to the bundle.yaml that ``init-bundle`` writes for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.hf_tokenizers import write_tokenizer

TEXT_LENGTH = 8
TOKENS = 16  # a transformer tower's sequence length
MFCC_SHAPE = (26, 13)  # 0.25 s at 16 kHz, hop 160: what init-bundle guesses for 26 frames
SMALL_IMAGE = (32, 32, 3)
WAVEFORM = 16000
SENTENCES = (
    "the cat sat on the mat",
    "a dog ran in the park",
    "birds sing at dawn",
    "the quick brown fox jumps over the lazy dog",
    "warm up seven times",
)


def seed_articles_model() -> Any:
    """The seed articles' style: word ids, a 224x224 photo and MFCCs; softmax and sigmoid heads."""
    import keras

    keras.utils.set_random_seed(0)
    words = keras.Input((TEXT_LENGTH,), name="text", dtype="int32")
    image = keras.Input((224, 224, 3), name="image")
    audio = keras.Input(MFCC_SHAPE, name="audio")
    towers = [
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4)(words)),
        keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 8, strides=8)(image)),
        keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(audio)),
    ]
    fused = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()(towers))
    outputs = {
        "label": keras.layers.Dense(3, activation="softmax", name="label")(fused),
        "tags": keras.layers.Dense(4, activation="sigmoid", name="tags")(fused),
    }
    return keras.Model({"text": words, "image": image, "audio": audio}, outputs)


def preprocessing_inside_model() -> Any:
    """A string text, a uint8 photo and a raw waveform, each preprocessed inside the model;
    multilabel and regression heads."""
    import keras

    keras.utils.set_random_seed(0)
    sentence = keras.Input((1,), name="sentence", dtype="string")
    photo = keras.Input(SMALL_IMAGE, name="photo", dtype="uint8")
    wave = keras.Input((WAVEFORM,), name="wave")
    vectorize = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=6)
    vectorize.adapt(list(SENTENCES))
    mel = keras.layers.MelSpectrogram(
        fft_length=512, sequence_stride=400, num_mel_bins=16, sampling_rate=WAVEFORM
    )(wave)
    towers = [
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(40, 4)(vectorize(sentence))),
        keras.layers.Flatten()(
            keras.layers.AveragePooling2D(8)(keras.layers.Rescaling(1 / 255)(photo))
        ),
        keras.layers.GlobalAveragePooling1D()(keras.layers.Rescaling(0.01)(mel)),
    ]
    fused = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()(towers))
    outputs = {
        "tags": keras.layers.Dense(3, activation="sigmoid", name="tags")(fused),
        "price": keras.layers.Dense(2, name="price")(fused),
    }
    return keras.Model({"sentence": sentence, "photo": photo, "wave": wave}, outputs)


def transformer_text_model(vocab_size: int) -> Any:
    """A BERT-style text tower: input_ids and attention_mask, one self-attention block."""
    import keras

    keras.utils.set_random_seed(0)
    ids = keras.Input((TOKENS,), name="input_ids", dtype="int32")
    mask = keras.Input((TOKENS,), name="attention_mask", dtype="int32")
    x = keras.layers.Embedding(vocab_size, 8)(ids)
    attention_mask = keras.layers.Reshape((1, TOKENS))(mask)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x, attention_mask=attention_mask)
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    label = keras.layers.Dense(3, activation="softmax", name="label")(pooled)
    return keras.Model({"input_ids": ids, "attention_mask": mask}, {"label": label})


def two_photos_model() -> Any:
    """One item photographed twice (front and back), one softmax head."""
    import keras

    keras.utils.set_random_seed(0)
    front = keras.Input(SMALL_IMAGE, name="front")
    back = keras.Input(SMALL_IMAGE, name="back")
    pool = keras.layers.GlobalAveragePooling2D()
    fused = keras.layers.Concatenate()([pool(front), pool(back)])
    label = keras.layers.Dense(3, activation="softmax", name="label")(fused)
    return keras.Model({"front": front, "back": back}, {"label": label})


def train_tokenizer(path: Path) -> int:
    """A WordPiece tokenizer.json trained here (no download); its vocab size."""
    from tokenizers import Tokenizer

    write_tokenizer(path, "wordpiece", vocab_size=80)
    return Tokenizer.from_file(str(path)).get_vocab_size()


def save_keras(model: Any, folder: Path, name: str) -> Path:
    """``model.save`` to ``folder/name`` (``.keras`` or the legacy ``.h5``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    model.save(path)
    return path


def save_saved_model(model: Any, folder: Path) -> Path:
    """Keras 3's TF Serving export: a SavedModel with a serving_default signature."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(folder), format="tf_saved_model", verbose=False)
    return folder


def add_assets(bundle: Path, tokenizer_json: Path | None = None) -> list[str]:
    """What the skeleton's TODOs ask a user for, and nothing else: a labels file per labelled
    output, a vocabulary per word-id text input, the tokenizer.json; the names written."""
    import shutil

    spec = yaml.safe_load((bundle / "bundle.yaml").read_text(encoding="utf-8"))
    written = []
    for entry in spec["outputs"].values():
        if "labels" in entry:
            units = _units(bundle, entry)
            write(bundle / entry["labels"], [f"label{i}" for i in range(units)])
            written.append(entry["labels"])
    for entry in spec["inputs"].values():
        params = entry.get("params") or {}
        if "vocabulary" in params and params["vocabulary"] not in written:
            write(bundle / params["vocabulary"], ["<pad>", "<unk>", *SENTENCES[0].split()])
            written.append(params["vocabulary"])
        if params.get("tokenizer") == "hf" and params["tokenizer_file"] not in written:
            assert tokenizer_json is not None, "an hf input needs the trained tokenizer.json"
            shutil.copy(tokenizer_json, bundle / params["tokenizer_file"])
            written.append(params["tokenizer_file"])
    return written


def _units(bundle: Path, entry: dict[str, Any]) -> int:
    # The skeleton's own TODO says how many: "TODO: write N labels, one a line, in order".
    text = (bundle / "bundle.yaml").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if f"labels: {entry['labels']}" in ln)
    return int(line.split("write ")[1].split()[0])


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
