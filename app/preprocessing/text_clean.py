"""What every text preprocessor does first: check the upload, then the bundle's normalisation steps
(NFKC, Unicode digits to ASCII, case folding, number words to digits, punctuation folding)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BundleError, UnprocessableInput
from app.preprocessing.number_words import NumberWords
from app.preprocessing.params import asset_path, flag, positive_int

#: The parameters TextCleaning reads; every text tokenizer accepts them.
CLEANING_PARAMS = {"nfkc", "lowercase", "map_digits", "fold_punctuation", "max_chars"}
#: A table of number words (digit, language, word) in the bundle; tokenizers with a bundle folder.
NUMBER_WORDS = "number_words"
DEFAULT_MAX_CHARS = 10_000
#: A string model input's dtype, as Keras and TensorFlow name it.
STRING_DTYPE = "string"

# C0 and C1 controls (tab, newline and carriage return aside), DEL, and lone surrogates (JSON
# strings can carry them; they are not text and cannot even be encoded as UTF-8).
_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In a str pattern \d is exactly Unicode category Nd, the characters unicodedata.decimal knows.
_DIGIT_RE = re.compile(r"\d")


@dataclass(frozen=True)
class TextCleaning:
    """The upload checks and optional normalisation steps shared by every text tokenizer."""

    nfkc: bool
    lowercase: bool
    map_digits: bool
    fold_punctuation: bool
    max_chars: int
    number_words: NumberWords | None = None

    @classmethod
    def from_params(
        cls, params: dict[str, Any], *, nfkc: bool, lowercase: bool, bundle_dir: Path | None = None
    ) -> TextCleaning:
        """The steps a bundle sets; ``nfkc`` and ``lowercase`` give the tokenizer's defaults.

        ``number_words`` is read from ``bundle_dir``, so only a tokenizer that passes it takes it.
        """
        table = None
        if params.get(NUMBER_WORDS) is not None:
            if bundle_dir is None:
                raise BundleError(f"{NUMBER_WORDS} is not used with this tokenizer")
            path = asset_path(bundle_dir, params, NUMBER_WORDS, "")
            table = NumberWords.load(path, params[NUMBER_WORDS])
        return cls(
            nfkc=flag(params, "nfkc", nfkc),
            lowercase=flag(params, "lowercase", lowercase),
            map_digits=flag(params, "map_digits", False),
            fold_punctuation=flag(params, "fold_punctuation", False),
            max_chars=positive_int(params, "max_chars", DEFAULT_MAX_CHARS),
            number_words=table,
        )

    def checked(self, data: bytes | str) -> str:
        """The upload as text; a 422 when it is not UTF-8, too long, has controls or is empty."""
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
        return data

    def normalise(self, text: str) -> str:
        """``text`` after the steps that are on, in a fixed order."""
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.map_digits and not text.isascii():
            text = _DIGIT_RE.sub(_ascii_digit, text)
        if self.lowercase:
            text = text.casefold()
        if self.number_words is not None:
            text = self.number_words.replace(text)
        if self.fold_punctuation:
            text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
        return text

    def clean(self, data: bytes | str) -> str:
        """Checked, then normalised."""
        return self.normalise(self.checked(data))

    def describe(self) -> dict[str, Any]:
        """The steps, for model metadata (``number_words`` only when it is on)."""
        steps: dict[str, Any] = {
            "nfkc": self.nfkc,
            "lowercase": self.lowercase,
            "map_digits": self.map_digits,
            "fold_punctuation": self.fold_punctuation,
            "max_chars": self.max_chars,
        }
        if self.number_words is not None:
            steps[NUMBER_WORDS] = self.number_words.source
        return steps


def token_id_dtype(dtype: str, tokenizer: str) -> np.dtype:
    """The integer dtype of a token-id input; a string input needs ``tokenizer: raw``."""
    if dtype == STRING_DTYPE:
        raise BundleError(
            f"the model input is a string (dtype {dtype}): a string input needs tokenizer: raw, "
            f"not {tokenizer!r}"
        )
    if not np.issubdtype(np.dtype(dtype), np.integer):
        raise BundleError(
            f"tokenizer {tokenizer!r} gives integer token ids, the model input is {dtype}"
        )
    return np.dtype(dtype)


def refuse(params: dict[str, Any], reasons: dict[str, str], tokenizer: str) -> None:
    """A clear BundleError for a parameter that has no meaning with this tokenizer."""
    for key, why in reasons.items():
        if key in params:
            raise BundleError(f"{key} is not used with tokenizer {tokenizer!r}: {why}")


def _ascii_digit(match: re.Match[str]) -> str:
    """The ASCII digit of one Unicode decimal digit (Persian ۷, Devanagari ७, Thai ๗ -> 7)."""
    return str(unicodedata.decimal(match.group()))
