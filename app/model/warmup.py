"""Real bytes for each modality, fed through a bundle's preprocessors before it turns ready."""

from __future__ import annotations

import io

import numpy as np

from app.model.bundle import Bundle

WARMUP_SEED = 0


def sample_image() -> bytes:
    """A 640x480 photo-sized JPEG: decode, resize and scaling all run."""
    from PIL import Image

    rng = np.random.default_rng(WARMUP_SEED)
    pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def sample_audio() -> bytes:
    """One second of 44.1 kHz stereo WAV: decoding, mixdown, resampling and features all run."""
    import soundfile as sf

    rate = 44_100
    t = np.arange(rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone, tone], axis=1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


SAMPLES = {"image": sample_image, "audio": sample_audio, "text": lambda: "warm up 7"}


def warm_up_preprocessors(bundle: Bundle) -> None:
    """Run each of the bundle's preprocessors once on real bytes (JIT caches, lazy imports)."""
    for part in bundle.parts.values():
        part(SAMPLES[part.modality]())
