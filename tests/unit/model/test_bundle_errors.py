"""What a bundle declares that cannot be served stops the start with one line naming both sides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app import WORKER_BOOT_ERROR
from app.errors import BundleError
from app.model.bundle import load_bundle
from tests.support.server import start_gunicorn

STOP_WITHIN_S = 120


def _text_model(dtype: str, shape: tuple[int, ...]):
    import keras

    text = keras.Input(shape, name="text", dtype=dtype)
    if dtype == "string":
        vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
        vectorize.adapt(["a red shoe", "a blue shirt"])
        x = keras.layers.Flatten()(keras.layers.Embedding(20, 2)(vectorize(text)))
    else:
        x = keras.layers.Flatten()(keras.layers.Embedding(20, 2)(text))
    return keras.Model({"text": text}, {"score": keras.layers.Dense(1, name="score")(x)})


def _wave_model(samples: int):
    import keras

    wave = keras.Input((samples,), name="wave")
    return keras.Model({"wave": wave}, {"score": keras.layers.Dense(1, name="score")(wave)})


def _write(root: Path, model, inputs: dict, outputs: dict, save_as: str = "model.keras") -> Path:
    path = root / "m" / "1"
    path.mkdir(parents=True)
    if save_as == "saved_model":
        import tensorflow as tf

        # A SavedModel whose only signature is not serving_default.
        module = tf.Module()
        module.f = tf.function(
            lambda x: {"score": x * 2.0}, input_signature=[tf.TensorSpec([None, 1], tf.float32)]
        )
        tf.saved_model.save(module, str(path / "saved_model"), signatures={"predict": module.f})
    else:
        model.save(path / save_as)
    (path / "bundle.yaml").write_text(yaml.safe_dump({"inputs": inputs, "outputs": outputs}))
    return path


REGRESSION = {"score": {"kind": "regression"}}
CASES = {
    "unknown output kind": (
        lambda: _text_model("string", ()),
        {"text": {"modality": "text", "params": {"tokenizer": "raw"}}},
        {"score": {"kind": "histogram"}},
        "model.keras",
        ["output 'score'", "kind 'histogram'", "known: ['classification', 'multilabel'"],
    ),
    "multilabel threshold past 1": (
        lambda: _text_model("string", ()),
        {"text": {"modality": "text", "params": {"tokenizer": "raw"}}},
        {"score": {"kind": "multilabel", "labels": "labels.txt", "threshold": 1.5}},
        "model.keras",
        ["output 'score'", "threshold", "1.5"],
    ),
    "regression names that do not match the units": (
        lambda: _text_model("string", ()),
        {"text": {"modality": "text", "params": {"tokenizer": "raw"}}},
        {"score": {"kind": "regression", "names": ["low", "high"]}},
        "model.keras",
        ["output 'score'", "2", "1 units"],
    ),
    "string input without tokenizer raw": (
        lambda: _text_model("string", ()),
        {"text": {"modality": "text", "params": {"vocabulary": "vocab.txt"}}},
        REGRESSION,
        "model.keras",
        ["input 'text'", "string", "tokenizer: raw"],
    ),
    "tokenizer file that does not load": (
        lambda: _text_model("int32", (4,)),
        {"text": {"modality": "text", "params": {"tokenizer": "hf"}}},
        REGRESSION,
        "model.keras",
        ["input 'text'", "tokenizer.json"],
    ),
    "waveform length that does not match": (
        lambda: _wave_model(8000),
        {
            "wave": {
                "modality": "audio",
                "params": {"features": "waveform", "sample_rate": 16000, "duration_s": 1.0},
            }
        },
        REGRESSION,
        "model.h5",
        ["input 'wave'", "16000 samples", "8000"],
    ),
    "SavedModel without serving_default": (
        lambda: None,
        {"x": {"modality": "audio"}},
        REGRESSION,
        "saved_model",
        ["serving_default", "predict"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_one_line_naming_the_bundle_and_both_sides(tmp_path, case):
    build, inputs, outputs, save_as, words = CASES[case]
    path = _write(tmp_path, build(), inputs, outputs, save_as)
    (path / "labels.txt").write_text("good\n")
    if case == "tokenizer file that does not load":
        (path / "tokenizer.json").write_text('{"model": "not a tokenizer"}')
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"bundle m/1 ({path})")
    for word in words:
        assert word in message


@pytest.mark.slow  # starts gunicorn
def test_gunicorn_stops_with_that_line_and_no_traceback(tmp_path):
    build, inputs, outputs, save_as, _ = CASES["string input without tokenizer raw"]
    path = _write(tmp_path / "models", build(), inputs, outputs, save_as)
    log_path = tmp_path / "server.log"
    proc, _ = start_gunicorn(
        log_path, MMS_MODELS_DIR=str(path.parent.parent), MMS_DEFAULT_MODEL="m"
    )
    try:
        code = proc.wait(STOP_WITHIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = log_path.read_text()
    assert code == WORKER_BOOT_ERROR, log[-3000:]
    assert "Traceback" not in log
    [line] = [line for line in log.splitlines() if "start-up failed" in line]
    assert "bundle m/1" in line and "tokenizer: raw" in line
