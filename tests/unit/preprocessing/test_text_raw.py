"""tokenizer: raw (the text itself for a string model input) and make_preprocessor's choices."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.errors import BundleError, UnprocessableInput
from app.preprocessing import (
    PREPROCESSORS,
    AudioPreprocessor,
    ImagePreprocessor,
    RawTextPreprocessor,
    TextPreprocessor,
    WaveformPreprocessor,
    make_preprocessor,
)


def make(shape: tuple[int, ...] = (), **params) -> RawTextPreprocessor:
    return RawTextPreprocessor(
        {"tokenizer": "raw", **params}, bundle_dir=Path("."), shape=shape, dtype="string"
    )


@pytest.mark.parametrize(
    "params,data,expected",
    [
        ({}, "The Café", b"The Caf\xc3\xa9"),  # no step unless set: the model standardises
        ({}, "\ufeffHi".encode(), b"Hi"),  # the BOM of an uploaded file is dropped
        ({}, "cafe\u0301 \ufb01", "cafe\u0301 \ufb01".encode()),  # not even NFKC by default
        ({"nfkc": True}, "cafe\u0301 \ufb01", "café fi".encode()),
        ({"lowercase": True}, "The CAFÉ", "the café".encode()),
        ({"map_digits": True}, "\u0667 and 7", b"7 and 7"),
        ({"fold_punctuation": True}, "hi, there!", b"hi  there "),
        ({}, "  spaced\tout\n", b"  spaced\tout\n"),  # the text itself, whitespace and all
    ],
)
def test_the_text_itself_as_utf8_bytes(params, data, expected):
    for shape in [(), (1,)]:
        out = make(shape, **params)(data)
        assert out.dtype == np.dtype(object) and out.shape == shape
        assert out.reshape(-1)[0] == expected and isinstance(out.reshape(-1)[0], bytes)


@pytest.mark.parametrize(
    "data,fragment",
    [
        ("", "empty"),
        (" \n", "empty"),
        (b"\xc3(", "not valid UTF-8 (byte 0)"),
        ("x" * 11, "11 characters is over the limit of 10"),
        ("a\x1bb", "U+001B at position 1"),
    ],
)
def test_unusable_text_is_422(data, fragment):
    with pytest.raises(UnprocessableInput, match=re.escape(fragment)):
        make(max_chars=10)(data)


@pytest.mark.parametrize(
    "shape,dtype,params,fragment",
    [
        (
            (),
            "int32",
            {},
            "tokenizer 'raw' gives the text itself, for a string model input "
            "(dtype string), but the model input is int32",
        ),
        ((2,), "string", {}, "must have shape () or (1,), it has (2,)"),
        ((1, 1), "string", {}, "it has (1, 1)"),
        ((), "string", {"vocabulary": "v.txt"}, "vocabulary is not used with tokenizer 'raw'"),
        ((), "string", {"max_length": 8}, "max_length is not used with tokenizer 'raw'"),
        ((), "string", {"stem": True}, "unknown text parameters ['stem']"),
        ((), "string", {"lowercase": "yes"}, "lowercase must be true or false"),
    ],
)
def test_raw_bundle_mistakes(shape, dtype, params, fragment):
    with pytest.raises(BundleError) as caught:
        RawTextPreprocessor(
            {"tokenizer": "raw", **params}, bundle_dir=Path("."), shape=shape, dtype=dtype
        )
    assert fragment in str(caught.value)


def test_describe():
    assert make(lowercase=True).describe() == {
        "tokenizer": "raw",
        "number_words": None,
        "nfkc": False,
        "lowercase": True,
        "map_digits": False,
        "fold_punctuation": False,
        "max_chars": 10_000,
    }


@pytest.fixture
def vocab_dir(tmp_path: Path) -> Path:
    (tmp_path / "vocab.txt").write_text("<pad>\n<unk>\nthe\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "modality,params,shape,dtype,cls",
    [
        ("text", {"vocabulary": "vocab.txt"}, (4,), "int32", TextPreprocessor),
        ("text", {"vocabulary": "vocab.txt", "tokenizer": "char"}, (4,), "int64", TextPreprocessor),
        ("text", {"tokenizer": "raw"}, (1,), "string", RawTextPreprocessor),
        ("image", {}, (8, 8, 3), "float32", ImagePreprocessor),
        ("audio", {}, (101, 40), "float32", AudioPreprocessor),
        ("audio", {"features": "mfcc"}, (101, 13), "float32", AudioPreprocessor),
        ("audio", {"features": "waveform"}, (16000,), "float32", WaveformPreprocessor),
    ],
)
def test_make_preprocessor_picks_the_class(vocab_dir, modality, params, shape, dtype, cls):
    built = make_preprocessor(modality, params, bundle_dir=vocab_dir, shape=shape, dtype=dtype)
    assert type(built) is cls and built.modality == modality
    # The old registry by name goes the same way.
    again = PREPROCESSORS[modality](params, bundle_dir=vocab_dir, shape=shape, dtype=dtype)
    assert type(again) is cls


@pytest.mark.parametrize(
    "modality,params,shape,dtype,fragment",
    [
        ("video", {}, (4,), "float32", "modality 'video'; known: ['audio', 'image', 'text']"),
        ("text", {"tokenizer": "bpe"}, (4,), "int32", "tokenizer 'bpe'; known: ['word', 'char', "),
        ("text", {"tokenizer": ["raw"]}, (4,), "int32", "tokenizer ['raw']; known"),
        ("audio", {"features": "stft"}, (4,), "float32", "features 'stft'; known: "),
        ("text", {"vocabulary": "vocab.txt"}, (), "string", "a string input needs tokenizer: raw"),
        (
            "text",
            {"vocabulary": "vocab.txt", "tokenizer": "char"},
            (4,),
            "string",
            "a string input needs tokenizer: raw, not 'char'",
        ),
        ("image", {}, (8, 8, 3), "string", "only text with tokenizer: raw feeds one, not image"),
        ("audio", {}, (16000,), "string", "only text with tokenizer: raw feeds one, not audio"),
    ],
)
def test_make_preprocessor_mistakes(vocab_dir, modality, params, shape, dtype, fragment):
    with pytest.raises(BundleError) as caught:
        make_preprocessor(modality, params, bundle_dir=vocab_dir, shape=shape, dtype=dtype)
    assert fragment in str(caught.value)
