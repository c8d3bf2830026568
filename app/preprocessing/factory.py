"""The one way a bundle builds a preprocessor: the class is chosen by modality, then by the
parameter that changes what the model input is (text ``tokenizer``, audio ``features``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.errors import BundleError
from app.preprocessing.audio import AudioPreprocessor
from app.preprocessing.base import Preprocessor, PreprocessorFactory
from app.preprocessing.hf_text import HfTextPreprocessor
from app.preprocessing.image import ImagePreprocessor
from app.preprocessing.text import RawTextPreprocessor, TextPreprocessor
from app.preprocessing.text_clean import STRING_DTYPE
from app.preprocessing.waveform import WaveformPreprocessor

TEXT_TOKENIZERS: dict[str, PreprocessorFactory] = {
    "word": TextPreprocessor,
    "char": TextPreprocessor,
    "raw": RawTextPreprocessor,
    "hf": HfTextPreprocessor,
}
AUDIO_FEATURES: dict[str, PreprocessorFactory] = {
    "log_mel": AudioPreprocessor,
    "mfcc": AudioPreprocessor,
    "waveform": WaveformPreprocessor,
}
# Per modality with more than one class: the parameter that picks it, its default, the classes.
_CHOOSERS: dict[str, tuple[str, str, dict[str, PreprocessorFactory]]] = {
    "text": ("tokenizer", "word", TEXT_TOKENIZERS),
    "audio": ("features", "log_mel", AUDIO_FEATURES),
}
MODALITIES = ("text", "image", "audio")


def make_preprocessor(
    modality: str,
    params: dict[str, Any],
    *,
    bundle_dir: Path,
    shape: tuple[int, ...],
    dtype: str,
) -> Preprocessor:
    """The preprocessor for one model input (or one hf part); every mistake is a BundleError."""
    if modality not in MODALITIES:
        raise BundleError(f"modality {modality!r}; known: {sorted(MODALITIES)}")
    if dtype == STRING_DTYPE and modality != "text":
        raise BundleError(
            f"the model input is a string (dtype {dtype}): only text with tokenizer: raw feeds "
            f"one, not {modality}"
        )
    factory: PreprocessorFactory = ImagePreprocessor
    if modality in _CHOOSERS:
        key, default, classes = _CHOOSERS[modality]
        value = params.get(key, default)
        if not isinstance(value, str) or value not in classes:
            raise BundleError(f"{key} {value!r}; known: {list(classes)}")
        factory = classes[value]
    return factory(params, bundle_dir=bundle_dir, shape=shape, dtype=dtype)


def _factory(modality: str) -> PreprocessorFactory:
    """``make_preprocessor`` for one modality, in the shape of a preprocessor class."""

    def build(
        params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> Preprocessor:
        return make_preprocessor(modality, params, bundle_dir=bundle_dir, shape=shape, dtype=dtype)

    build.__name__ = f"make_{modality}_preprocessor"
    return build


#: Kept for code that looks a modality up by name; each entry goes through make_preprocessor.
PREPROCESSORS: dict[str, PreprocessorFactory] = {m: _factory(m) for m in MODALITIES}
