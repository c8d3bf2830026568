"""Text to a transformer's tensors with the bundle's Hugging Face ``tokenizer.json``: special tokens
from its post-processor, truncated and padded to the model input's length."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from tokenizers import Tokenizer

from app.errors import BundleError
from app.preprocessing.params import asset_path, check_known
from app.preprocessing.text_clean import CLEANING_PARAMS, TextCleaning, refuse, token_id_dtype

KNOWN_PARAMS = {"tokenizer", "tokenizer_file", "max_length", *CLEANING_PARAMS}
DEFAULT_TOKENIZER_FILE = "tokenizer.json"
# Looked up, in this order, when the file has no padding setting of its own.
PAD_TOKENS = ("[PAD]", "<pad>")
HF_REFUSED = {"vocabulary": "the vocabulary is inside tokenizer_file"}


class HfTextPreprocessor:
    """One tokenisation gives every feed: ``input_ids``, ``attention_mask``, ``token_type_ids``."""

    modality: ClassVar[str] = "text"
    accepted_formats: ClassVar[tuple[str, ...]] = ("UTF-8 text",)
    FEEDS: ClassVar[tuple[str, ...]] = ("input_ids", "attention_mask", "token_type_ids")
    #: ``__call__`` answers a dict keyed by FEEDS; the bundle picks each input's feed from it.
    multi_feed: ClassVar[bool] = True

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        refuse(params, HF_REFUSED, "hf")
        check_known(params, KNOWN_PARAMS, "text")
        if params.get("tokenizer", "hf") != "hf":
            raise BundleError(f"tokenizer {params['tokenizer']!r}; this preprocessor is 'hf'")
        token_id_dtype(dtype, "hf")
        if len(shape) != 1:
            raise BundleError(
                f"tokenizer 'hf' needs model inputs of shape (length,), the model has {shape}"
            )
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(np.int64)  # every feed; the bundle casts to each input's dtype
        self.max_length = self.shape[0]
        if params.get("max_length", self.max_length) != self.max_length:
            raise BundleError(
                f"max_length {params['max_length']} in bundle.yaml but the model input takes "
                f"{self.max_length} tokens"
            )
        self.cleaning = TextCleaning.from_params(params, nfkc=False, lowercase=False)
        path = asset_path(bundle_dir, params, "tokenizer_file", DEFAULT_TOKENIZER_FILE)
        self.tokenizer_file = params.get("tokenizer_file", DEFAULT_TOKENIZER_FILE)
        self._tokenizer = _load(path, self.tokenizer_file)
        self._configure()

    def _configure(self) -> None:
        """Fix truncation and padding once: the tokenizer is then only read, by many threads."""
        tokenizer = self._tokenizer
        specials = tokenizer.num_special_tokens_to_add(False)
        if specials >= self.max_length:
            raise BundleError(
                f"the tokenizer adds {specials} special tokens, leaving no room in the model "
                f"input's {self.max_length}"
            )
        padding = tokenizer.padding or {}
        truncation = tokenizer.truncation or {}
        # The file's own directions are kept (left padding for some decoders); lengths are ours.
        self.pad_left = padding.get("direction") == "left"
        tokenizer.enable_truncation(
            max_length=self.max_length, direction=truncation.get("direction", "right")
        )
        tokenizer.no_padding()  # padding here, to the model's length, whatever the file says
        self.pad_type_id = int(padding.get("pad_type_id", 0))
        self.pad_note = None
        if padding:
            self.pad_id, self.pad_token = int(padding["pad_id"]), padding.get("pad_token")
            return
        for token in PAD_TOKENS:
            if (found := tokenizer.token_to_id(token)) is not None:
                self.pad_id, self.pad_token = found, token
                return
        self.pad_id, self.pad_token = 0, None
        self.pad_note = f"id 0: the file has no padding setting and no {' or '.join(PAD_TOKENS)}"

    def __call__(self, data: bytes | str) -> dict[str, np.ndarray]:
        """Every feed for one text, each int64 of the model input's length."""
        encoding = self._tokenizer.encode(self.cleaning.clean(data), add_special_tokens=True)
        length = len(encoding.ids)
        where = slice(self.max_length - length, None) if self.pad_left else slice(0, length)
        out = {}
        for feed, values, pad in (
            ("input_ids", encoding.ids, self.pad_id),
            ("attention_mask", encoding.attention_mask, 0),
            ("token_type_ids", encoding.type_ids, self.pad_type_id),
        ):
            array = np.full(self.shape, pad, dtype=np.int64)
            array[where] = values
            out[feed] = array
        return out

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        described = {
            "tokenizer": "hf",
            "tokenizer_file": self.tokenizer_file,
            "model": type(self._tokenizer.model).__name__,
            "vocabulary_size": self._tokenizer.get_vocab_size(with_added_tokens=True),
            "max_length": self.max_length,
            "special_tokens": self._tokenizer.num_special_tokens_to_add(False),
            "pad_token": self.pad_token,
            "pad_id": self.pad_id,
            "padding_side": "left" if self.pad_left else "right",
            "feeds": list(self.FEEDS),
            **self.cleaning.describe(),
        }
        if self.pad_note:
            described["pad_note"] = self.pad_note
        return described


def _load(path: Path, name: str) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises plain Exception for every kind of bad file
        raise BundleError(f"tokenizer_file {name!r} cannot be loaded: {exc}") from None
