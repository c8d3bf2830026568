"""Text to token ids: NFKC, optional digit mapping, case and punctuation folding, the bundle's
vocabulary, pad/truncate."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from app.errors import BundleError, UnprocessableInput
from app.preprocessing.params import check_known, choice, flag, positive_int

TOKENIZERS = ("word", "char")
KNOWN_PARAMS = {
    "vocabulary", "tokenizer", "lowercase", "max_length", "max_chars", "map_digits",
    "fold_punctuation",
}  # fmt: skip
DEFAULT_MAX_CHARS = 10_000

# CJK scripts are written without spaces: each ideograph, kana or hangul syllable is a word.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
# C0 and C1 controls (tab, newline and carriage return aside), DEL, and lone surrogates (JSON
# strings can carry them; they are not text and cannot even be encoded as UTF-8).
_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In a str pattern \d is exactly Unicode category Nd, the characters unicodedata.decimal knows.
_DIGIT_RE = re.compile(r"\d")


class TextPreprocessor:
    """Tokenises text with a fixed vocabulary file; id 0 pads, id 1 stands for unknown tokens."""

    modality: ClassVar[str] = "text"
    accepted_formats: ClassVar[tuple[str, ...]] = ("UTF-8 text",)

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        check_known(params, KNOWN_PARAMS, "text")
        if len(shape) != 1:
            raise BundleError(f"text needs a model input of shape (length,), the model has {shape}")
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise BundleError(f"text gives integer token ids, the model input is {dtype}")
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.max_length = shape[0]
        if params.get("max_length", self.max_length) != self.max_length:
            raise BundleError(
                f"max_length {params['max_length']} in bundle.yaml but the model input takes "
                f"{self.max_length} tokens"
            )
        self.tokenizer = choice(params, "tokenizer", TOKENIZERS)
        self.lowercase = flag(params, "lowercase", True)
        self.max_chars = positive_int(params, "max_chars", DEFAULT_MAX_CHARS)
        self.map_digits = flag(params, "map_digits", False)
        self.fold_punctuation = flag(params, "fold_punctuation", False)
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
        text = unicodedata.normalize("NFKC", text)
        if self.map_digits and not text.isascii():
            text = _DIGIT_RE.sub(_ascii_digit, text)
        if self.lowercase:
            text = text.casefold()
        if self.fold_punctuation:
            text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
        if self.tokenizer == "char":
            return [c for c in text if not c.isspace()]
        return _WORD_RE.findall(text)

    def __call__(self, data: bytes | str) -> np.ndarray:
        """Token ids for one text, padded with 0 or truncated to the model's length."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise UnprocessableInput(
                    f"text: not valid UTF-8 (byte {exc.start})", field="text"
                ) from None
        if len(data) > self.max_chars:
            raise UnprocessableInput(
                f"text: {len(data)} characters is over the limit of {self.max_chars}", field="text"
            )
        forbidden = _FORBIDDEN_RE.search(data)
        if forbidden:
            raise UnprocessableInput(
                f"text: character U+{ord(forbidden.group()):04X} at position {forbidden.start()} "
                "is not allowed (control characters other than tab, newline and carriage return, "
                "and lone surrogates)",
                field="text",
            )
        if not data.strip():
            raise UnprocessableInput("text: empty", field="text")
        ids = [self.ids.get(t, 1) for t in self.tokens(data)[: self.max_length]]
        out = np.zeros(self.shape, dtype=self.dtype)
        out[: len(ids)] = ids
        return out

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        return {
            "tokenizer": self.tokenizer,
            "lowercase": self.lowercase,
            "max_length": self.max_length,
            "vocabulary": self.vocabulary_file,
            "vocabulary_size": self.vocab_size,
            "max_chars": self.max_chars,
            "map_digits": self.map_digits,
            "fold_punctuation": self.fold_punctuation,
        }


def _ascii_digit(match: re.Match[str]) -> str:
    """The ASCII digit of one Unicode decimal digit (Persian ۷, Devanagari ७, Thai ๗ -> 7)."""
    return str(unicodedata.decimal(match.group()))
