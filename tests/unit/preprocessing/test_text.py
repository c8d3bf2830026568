"""TextPreprocessor on accents, CJK, emoji, casing, OOV, padding and its bundle checks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.errors import BundleError, UnprocessableInput
from app.preprocessing.text import TextPreprocessor

VOCAB = ["<pad>", "<unk>", "the", "café", "seven", "七", "ﬁ", "fi", "s", "e", "v", "n"]


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return tmp_path


def make(bundle_dir: Path, length: int = 6, dtype: str = "int32", **params) -> TextPreprocessor:
    return TextPreprocessor(
        {"vocabulary": "vocab.txt", **params}, bundle_dir=bundle_dir, shape=(length,), dtype=dtype
    )


@pytest.mark.parametrize(
    "text,ids",
    [
        ("The Seven", [2, 4, 0, 0, 0, 0]),
        ("CAFÉ", [3, 0, 0, 0, 0, 0]),  # casefold keeps the accent
        ("cafe\u0301", [3, 0, 0, 0, 0, 0]),  # decomposed é composes under NFKC
        ("七八", [5, 1, 0, 0, 0, 0]),  # each ideograph is a token
        ("seven 😀 zebra", [4, 1, 0, 0, 0, 0]),  # emoji is no word; zebra is OOV
        ("\ufb01", [7, 0, 0, 0, 0, 0]),  # the ligature ﬁ is "fi" after NFKC
        ("the " * 10, [2, 2, 2, 2, 2, 2]),  # truncated to the model's length
    ],
)
def test_word_tokens(bundle_dir, text, ids):
    out = make(bundle_dir)(text)
    assert out.dtype == np.int32 and out.shape == (6,)
    assert out.tolist() == ids


def test_char_tokenizer_and_bytes_input(bundle_dir):
    pre = make(bundle_dir, length=8, dtype="int64", tokenizer="char")
    out = pre(b"Sev en")
    assert out.dtype == np.int64
    assert out.tolist() == [8, 9, 10, 9, 11, 0, 0, 0]


def test_lowercase_off_keeps_case(bundle_dir):
    assert make(bundle_dir, lowercase=False)("The")[0] == 1


def test_utf8_bom_is_dropped(bundle_dir):
    assert make(bundle_dir)("\ufeffthe".encode())[0] == 2


@pytest.mark.parametrize(
    "data,fragment",
    [
        ("", "empty"),
        ("  \n\t", "empty"),
        (b"\xff\xfe", "UTF-8"),
        ("x" * 20, "limit"),
        ("the\x00cat", "U+0000 at position 3"),
        (b"\xef\xbb\xbfab\x00", "U+0000 at position 2"),  # after the BOM is dropped
        ("\x1b[0m", "U+001B at position 0"),
        ("ok\x7f", "U+007F at position 2"),
        ("a\x9fb", "U+009F at position 1"),
        ("a\ud800", "U+D800 at position 1"),
        ("a\x0b", "U+000B at position 1"),
    ],
)
def test_unusable_text_is_422(bundle_dir, data, fragment):
    with pytest.raises(UnprocessableInput, match=re.escape(fragment)):
        make(bundle_dir, max_chars=10)(data)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(params={"vocabulary": "vocab.txt", "max_length": 9}), "max_length 9"),
        (dict(params={"vocabulary": "missing.txt"}), "missing"),
        (dict(params={}), "vocabulary"),
        (dict(params={"vocabulary": "vocab.txt", "tokenizer": "bpe"}), "tokenizer"),
        (dict(params={"vocabulary": "vocab.txt", "stem": True}), "unknown"),
        (dict(params={"vocabulary": "vocab.txt"}, dtype="float32"), "integer"),
        (dict(params={"vocabulary": "vocab.txt"}, shape=(6, 2)), "shape"),
    ],
)
def test_bundle_mistakes(bundle_dir, kwargs, fragment):
    args = {"shape": (6,), "dtype": "int32", **kwargs}
    with pytest.raises(BundleError, match=fragment):
        TextPreprocessor(args.pop("params"), bundle_dir=bundle_dir, **args)


def test_tab_newline_and_carriage_return_separate_words(bundle_dir):
    assert make(bundle_dir)("the\tcafé\r\nseven").tolist()[:3] == [2, 3, 4]


def test_nfkc_runs_before_tokenising(bundle_dir):
    # U+FB01 (the fi ligature) and full-width letters fold to their plain forms.
    assert make(bundle_dir)("\ufb01 \uff53\uff45\uff56\uff45\uff4e").tolist()[:2] == [7, 4]
