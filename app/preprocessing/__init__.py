"""One preprocessor per modality, registered by the modality's name."""

from __future__ import annotations

from app.preprocessing.audio import AudioPreprocessor
from app.preprocessing.base import Preprocessor, PreprocessorFactory
from app.preprocessing.image import ImagePreprocessor
from app.preprocessing.text import TextPreprocessor

PREPROCESSORS: dict[str, PreprocessorFactory] = {
    "text": TextPreprocessor,
    "image": ImagePreprocessor,
    "audio": AudioPreprocessor,
}

__all__ = [
    "PREPROCESSORS",
    "Preprocessor",
    "AudioPreprocessor",
    "ImagePreprocessor",
    "TextPreprocessor",
]
