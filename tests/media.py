"""Real media bytes made on the fly, so tests never depend on files they cannot see."""

from __future__ import annotations

import io

import numpy as np


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color=(200, 30, 30), mode: str = "RGB"
) -> bytes:
    """A solid-colour image of ``size`` (width, height) encoded as ``fmt``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)
    return buf.getvalue()


def tone(rate: int, seconds: float, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine of ``freq`` Hz, shaped (samples, channels)."""
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def audio_bytes(
    fmt: str = "WAV",
    rate: int = 16000,
    seconds: float = 0.5,
    freq: float = 440.0,
    channels: int = 1,
    subtype: str | None = None,
) -> bytes:
    """A tone encoded as WAV, FLAC, OGG or MP3 by libsndfile."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, tone(rate, seconds, freq, channels), rate, format=fmt, subtype=subtype)
    return buf.getvalue()
