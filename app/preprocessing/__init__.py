"""Preprocessors: one per kind of model input, built by ``make_preprocessor``."""

from __future__ import annotations

from app.preprocessing.audio import AudioPreprocessor
from app.preprocessing.base import Preprocessor, PreprocessorFactory
from app.preprocessing.factory import MODALITIES, PREPROCESSORS, make_preprocessor
from app.preprocessing.hf_text import HfTextPreprocessor
from app.preprocessing.image import ImagePreprocessor
from app.preprocessing.text import RawTextPreprocessor, TextPreprocessor
from app.preprocessing.waveform import WaveformPreprocessor

__all__ = [
    "MODALITIES",
    "PREPROCESSORS",
    "Preprocessor",
    "PreprocessorFactory",
    "make_preprocessor",
    "AudioPreprocessor",
    "HfTextPreprocessor",
    "ImagePreprocessor",
    "RawTextPreprocessor",
    "TextPreprocessor",
    "WaveformPreprocessor",
]
