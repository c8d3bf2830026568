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


def digit_image(
    digit: str = "7",
    frame: tuple[int, int] = (280, 280),
    height: int = 200,
    centre: tuple[int, int] | None = None,
    ink: int = 0,
    paper: int = 255,
    fmt: str = "PNG",
) -> bytes:
    """A digit (OpenCV's Hershey font) ``height`` pixels tall at ``centre`` of a flat frame."""
    import cv2
    from PIL import Image

    width, frame_height = frame
    pixels = np.full((frame_height, width), paper, dtype=np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, height // 8)
    scale = height / cv2.getTextSize(digit, font, 1.0, 1)[0][1]
    (text_width, text_height), _ = cv2.getTextSize(digit, font, scale, thickness)
    cx, cy = centre or (width // 2, frame_height // 2)
    origin = (round(cx - text_width / 2), round(cy + text_height / 2))
    cv2.putText(pixels, digit, origin, font, scale, ink, thickness, cv2.LINE_AA)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def voice_burst(
    rate: int = 16000,
    lead_s: float = 1.5,
    burst_s: float = 0.4,
    tail_s: float = 1.1,
    f0: float = 180.0,
    hum_db: float | None = None,
) -> np.ndarray:
    """A spoken-like burst (vibrato, 7 harmonics, smooth envelope) between stretches of silence.

    ``hum_db``: a steady 100 Hz hum under the whole clip, that many dB below the burst's peak.
    """
    t = np.arange(round(burst_s * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * np.sqrt(np.hanning(t.size))
    voice = 0.5 * voice / np.max(np.abs(voice))
    silence = np.zeros(round(lead_s * rate)), np.zeros(round(tail_s * rate))
    clip = np.concatenate([silence[0], voice, silence[1]])
    if hum_db is not None:
        hum_t = np.arange(clip.size) / rate
        clip += 0.5 * 10 ** (-hum_db / 20) * np.sin(2 * np.pi * 100 * hum_t)
    return clip.astype(np.float32)


def wav_bytes(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    """``samples`` (float, -1..1) encoded as a WAV file."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()
