"""Optional text steps: Unicode decimal digits mapped to ASCII, punctuation folded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.errors import BundleError
from app.preprocessing.text import TextPreprocessor

VOCAB = ["<pad>", "<unk>", *"0123456789", "seven", "eight", "42"]
# Zero of each script; its digits 0-9 follow it in Unicode.
ZEROS = {
    "Arabic-Indic": "\u0660",
    "Persian": "\u06f0",
    "Devanagari": "\u0966",
    "Bengali": "\u09e6",
    "Thai": "\u0e50",
    "fullwidth": "\uff10",
}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return tmp_path


def make(bundle_dir: Path, tokenizer: str = "char", **params) -> TextPreprocessor:
    return TextPreprocessor(
        {"vocabulary": "vocab.txt", "tokenizer": tokenizer, **params},
        bundle_dir=bundle_dir,
        shape=(8,),
        dtype="int32",
    )


@pytest.mark.parametrize("script", ZEROS)
def test_every_digit_of_a_script_gets_the_ascii_digits_id(bundle_dir, script):
    pre = make(bundle_dir, map_digits=True)
    ascii_ids = [pre(str(d)) for d in range(10)]
    script_ids = [pre(chr(ord(ZEROS[script]) + d)) for d in range(10)]
    np.testing.assert_array_equal(script_ids, ascii_ids)
    assert len({int(ids[0]) for ids in script_ids}) == 10  # ten different ids, none OOV
    assert all(ids[0] != 1 for ids in script_ids)


def test_without_map_digits_script_digits_stay_unknown(bundle_dir):
    pre = make(bundle_dir)
    assert pre("\u06f7")[0] == 1  # Persian 7 is OOV without the folding
    assert pre("\uff17")[0] == VOCAB.index("7")  # fullwidth 7 was already 7 through NFKC


def test_map_digits_inside_words(bundle_dir):
    pre = make(bundle_dir, tokenizer="word", map_digits=True)
    np.testing.assert_array_equal(pre("it is \u0664\u0662 seven"), pre("it is 42 seven"))
    assert pre("\u0664\u0662")[0] == VOCAB.index("42")


def test_fold_punctuation_drops_punctuation_and_symbols_for_chars(bundle_dir):
    folded = make(bundle_dir, fold_punctuation=True)
    plain = make(bundle_dir)
    for text in ("(7)", "7!!", "«7»", "+7€", "7\u2026", "\u00bf7?"):
        np.testing.assert_array_equal(folded(text), plain("7"), err_msg=text)
    assert plain("7!")[1] == 1  # unfolded, the "!" is an unknown token


def test_fold_punctuation_splits_words(bundle_dir):
    folded = make(bundle_dir, tokenizer="word", fold_punctuation=True)
    plain = make(bundle_dir, tokenizer="word")
    np.testing.assert_array_equal(folded("seven_eight"), plain("seven eight"))
    assert plain("seven_eight")[0] == 1  # the underscore is a word character


def test_both_after_nfkc_and_casefold(bundle_dir):
    pre = make(bundle_dir, tokenizer="word", map_digits=True, fold_punctuation=True)
    np.testing.assert_array_equal(pre("SEVEN\uff01 \u0968-\u0966"), pre("seven 2 0"))


@pytest.mark.parametrize("key", ["map_digits", "fold_punctuation"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_values_are_bundle_errors_naming_the_key(bundle_dir, key, value):
    with pytest.raises(BundleError, match=key):
        make(bundle_dir, **{key: value})


def test_describe_shows_the_options(bundle_dir):
    assert (
        make(bundle_dir).describe().items()
        >= {"map_digits": False, "fold_punctuation": False}.items()
    )
    described = make(bundle_dir, map_digits=True, fold_punctuation=True).describe()
    assert described["map_digits"] is True and described["fold_punctuation"] is True
