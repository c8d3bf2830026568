"""Text to model input: token ids from the bundle's vocabulary (word, char), or the text itself for
a string input whose vectorisation is inside the model (raw)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from app.errors import BundleError
from app.preprocessing.params import check_known, choice
from app.preprocessing.text_clean import (
    CLEANING_PARAMS,
    NUMBER_WORDS,
    STRING_DTYPE,
    TextCleaning,
    refuse,
    token_id_dtype,
)

TOKENIZERS = ("word", "char")
KNOWN_PARAMS = {"vocabulary", "tokenizer", "max_length", NUMBER_WORDS, *CLEANING_PARAMS}
RAW_KNOWN_PARAMS = {"tokenizer", NUMBER_WORDS, *CLEANING_PARAMS}
RAW_SHAPES = ((), (1,))
# Why word/char parameters have no meaning for a string input (the model holds its vocabulary).
RAW_REFUSED = {
    "vocabulary": "the model's own vectorisation layer holds its vocabulary",
    "max_length": "a string input takes the whole text (max_chars bounds it)",
}

# CJK scripts are written without spaces: each ideograph, kana or hangul syllable is a word.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


class TextPreprocessor:
    """Tokenises text with a fixed vocabulary file; id 0 pads, id 1 stands for unknown tokens."""

    modality: ClassVar[str] = "text"
    accepted_formats: ClassVar[tuple[str, ...]] = ("UTF-8 text",)

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        check_known(params, KNOWN_PARAMS, "text")
        self.tokenizer = choice(params, "tokenizer", TOKENIZERS)
        self.dtype = token_id_dtype(dtype, self.tokenizer)
        if len(shape) != 1:
            raise BundleError(f"text needs a model input of shape (length,), the model has {shape}")
        self.shape = tuple(shape)
        self.max_length = shape[0]
        if params.get("max_length", self.max_length) != self.max_length:
            raise BundleError(
                f"max_length {params['max_length']} in bundle.yaml but the model input takes "
                f"{self.max_length} tokens"
            )
        self.cleaning = TextCleaning.from_params(
            params, nfkc=True, lowercase=True, bundle_dir=bundle_dir
        )
        if "vocabulary" not in params:
            raise BundleError("text needs a 'vocabulary' file")
        vocab_path = bundle_dir / params["vocabulary"]
        if not vocab_path.is_file():
            raise BundleError(f"vocabulary file {vocab_path} is missing")
        tokens = vocab_path.read_text(encoding="utf-8").splitlines()
        if len(tokens) < 2:
            raise BundleError(f"vocabulary {vocab_path} needs at least the pad and OOV tokens")
        self.vocabulary_file = params["vocabulary"]
        self.ids = {token: i for i, token in enumerate(tokens)}
        self.vocab_size = len(tokens)

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` after normalisation, before the vocabulary lookup."""
        text = self.cleaning.normalise(text)
        if self.tokenizer == "char":
            return [c for c in text if not c.isspace()]
        return _WORD_RE.findall(text)

    def __call__(self, data: bytes | str) -> np.ndarray:
        """Token ids for one text, padded with 0 or truncated to the model's length."""
        text = self.cleaning.checked(data)
        ids = [self.ids.get(t, 1) for t in self.tokens(text)[: self.max_length]]
        out = np.zeros(self.shape, dtype=self.dtype)
        out[: len(ids)] = ids
        return out

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        return {
            "tokenizer": self.tokenizer,
            "max_length": self.max_length,
            "vocabulary": self.vocabulary_file,
            "vocabulary_size": self.vocab_size,
            NUMBER_WORDS: None,
            **self.cleaning.describe(),
        }


class RawTextPreprocessor:
    """The checked, optionally normalised text itself, as UTF-8 bytes for a string model input."""

    modality: ClassVar[str] = "text"
    accepted_formats: ClassVar[tuple[str, ...]] = ("UTF-8 text",)

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        refuse(params, RAW_REFUSED, "raw")
        check_known(params, RAW_KNOWN_PARAMS, "text")
        if params.get("tokenizer", "raw") != "raw":
            raise BundleError(f"tokenizer {params['tokenizer']!r}; this preprocessor is 'raw'")
        if dtype != STRING_DTYPE:
            raise BundleError(
                f"tokenizer 'raw' gives the text itself, for a string model input "
                f"(dtype {STRING_DTYPE}), but the model input is {dtype}"
            )
        if tuple(shape) not in RAW_SHAPES:
            raise BundleError(
                f"tokenizer 'raw' feeds one string: the model input must have shape () or (1,), "
                f"it has {tuple(shape)}"
            )
        self.shape = tuple(shape)
        self.dtype = np.dtype(object)
        # No step is on unless the bundle sets it: the model's own layer standardises the text.
        self.cleaning = TextCleaning.from_params(
            params, nfkc=False, lowercase=False, bundle_dir=bundle_dir
        )

    def __call__(self, data: bytes | str) -> np.ndarray:
        """A one-element object array holding the text's UTF-8 bytes, of the model's shape."""
        text = self.cleaning.clean(data)
        return np.array([text.encode("utf-8")], dtype=object).reshape(self.shape)

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        return {"tokenizer": "raw", NUMBER_WORDS: None, **self.cleaning.describe()}
