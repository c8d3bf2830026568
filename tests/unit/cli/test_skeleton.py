"""The skeleton's guesses from a model's inputs and outputs, table by table (no model needed)."""

from __future__ import annotations

import pytest
import yaml

from app.cli.skeleton import guess_sample_rate, render
from app.model.model_file import TensorInfo


def _spec(inputs: list[TensorInfo], outputs: list[TensorInfo] | None = None) -> dict:
    text = render("model.keras", inputs, outputs or [TensorInfo("y", (2,), "float32", "softmax")])
    return yaml.safe_load(text)


@pytest.mark.parametrize(
    ("samples", "rate"),
    [
        (16000, 16000),  # 1 s; also 2 s at 8 kHz: the likelier rate wins the tie
        (48000, 16000),
        (22050, 22050),
        (44100, 44100),  # 1 s at 44.1 kHz rather than 2 s at 22.05 kHz
        (8000, 8000),
        (12345, 16000),  # round nowhere: the default
    ],
)
def test_sample_rate_guesses(samples, rate):
    assert guess_sample_rate(samples) == rate


@pytest.mark.parametrize("shape", [(22050,), (22050, 1)])
def test_a_waveform_input(shape):
    spec = _spec([TensorInfo("x", shape, "float32")])
    assert spec["inputs"]["x"]["modality"] == "audio"
    assert spec["inputs"]["x"]["params"] == {
        "features": "waveform",
        "sample_rate": 22050,
        "duration_s": 1.0,
    }


def test_a_duration_that_is_not_round_is_written_exactly():
    params = _spec([TensorInfo("x", (12345,), "float32")])["inputs"]["x"]["params"]
    assert round(params["duration_s"] * params["sample_rate"]) == 12345


def test_short_float_vectors_are_not_audio():
    spec = _spec([TensorInfo("x", (999,), "float32")])
    assert spec["inputs"]["x"] == {"modality": "TODO"}


@pytest.mark.parametrize("shape", [(), (1,)])
def test_a_string_input_is_raw_text(shape):
    spec = _spec([TensorInfo("review", shape, "string")])
    assert spec["inputs"]["review"]["modality"] == "text"
    assert spec["inputs"]["review"]["params"] == {"tokenizer": "raw", "lowercase": False}


def test_tokenizer_inputs_with_a_common_prefix_share_a_part():
    inputs = [
        TensorInfo(f"{prefix}_{feed}", (12,), "int64")
        for prefix in ("query", "doc")
        for feed in ("input_ids", "attention_mask", "token_type_ids")
    ]
    spec = _spec(inputs)
    for name, entry in spec["inputs"].items():
        prefix, _, feed = name.partition("_")
        assert entry["part"] == prefix
        assert entry["params"] == {
            "tokenizer": "hf",
            "tokenizer_file": "tokenizer.json",
            "feed": feed,
        }


def test_tokenizer_inputs_beside_a_string_text():
    spec = _spec(
        [
            TensorInfo("input_ids", (12,), "int32"),
            TensorInfo("attention_mask", (12,), "int32"),
            TensorInfo("title", (1,), "string"),
        ]
    )
    parts = {name: entry["part"] for name, entry in spec["inputs"].items()}
    assert parts == {"input_ids": "text", "attention_mask": "text", "title": "title"}


def test_a_part_named_like_another_modality_is_renamed():
    spec = _spec(
        [
            TensorInfo("audio", (32, 32, 3), "float32"),
            TensorInfo("photo", (32, 32, 3), "float32"),
            TensorInfo("clip", (16000,), "float32"),
        ]
    )
    parts = {name: entry.get("part") for name, entry in spec["inputs"].items()}
    # "clip" keeps the default part "audio": the image input named audio takes another.
    assert parts == {"audio": "audio_2", "photo": "photo", "clip": None}


def test_image_scales():
    spec = _spec(
        [TensorInfo("pixels", (64, 64, 3), "uint8"), TensorInfo("clip", (16000,), "float32")]
    )
    assert spec["inputs"]["pixels"]["params"]["scale"] == "none"
    text = render("m.h5", [TensorInfo("input_layer", (224, 224, 3), "float32")], [])
    assert "keras.applications backbone" in text
    assert "unit | symmetric | standard (add mean, std) | caffe | torch | none" in text
    small = render("m.h5", [TensorInfo("x", (28, 28, 1), "float32")], [])
    assert "keras.applications" not in small


@pytest.mark.parametrize(
    ("tensor", "entry"),
    [
        (
            TensorInfo("y", (3,), "float32", "softmax"),
            {"kind": "classification", "labels": "labels.txt"},
        ),
        (
            TensorInfo("y", (3,), "float32", "sigmoid"),
            {"kind": "multilabel", "labels": "labels.txt", "threshold": 0.5},
        ),
        (TensorInfo("y", (2,), "float32", "linear"), {"kind": "regression"}),
        (TensorInfo("y", (2,), "float32", None), {"kind": "regression"}),
        (TensorInfo("text_embedding", (64,), "float32", None), {"kind": "embedding"}),
        (TensorInfo("y", (64,), "float32", "tanh"), {"kind": "embedding"}),
        (TensorInfo("y", (4, 4), "float32", None), {"kind": "TODO"}),
    ],
)
def test_output_kinds(tensor, entry):
    spec = _spec([TensorInfo("x", (8,), "int32")], [tensor])
    assert spec["outputs"] == {tensor.name: entry}


def test_a_regression_output_hints_its_names():
    text = render("m.keras", [], [TensorInfo("price", (2,), "float32", "linear")])
    assert "# names: [price_0, price_1]" in text and "or embedding" in text


def test_odd_names_stay_valid_yaml():
    spec = _spec(
        [TensorInfo("serving input:0", (8,), "int32")],
        [TensorInfo("output #1", (3,), "float32", "softmax")],
    )
    assert list(spec["inputs"]) == ["serving input:0"]
    assert spec["outputs"] == {"output #1": {"kind": "classification", "labels": "labels.txt"}}


def test_part_names_are_ones_a_request_can_carry():
    spec = _spec(
        [TensorInfo("front view:0", (8, 8, 3), "float32"), TensorInfo("back", (8, 8, 3), "float32")]
    )
    assert spec["inputs"]["front view:0"]["part"] == "front_view_0"
