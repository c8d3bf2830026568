"""The benchmark workload: a photo-like JPEG, a speech-like WAV and a short text, all seeded."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 7
IMAGE_SIZE = (1280, 720)
JPEG_QUALITY = 90
AUDIO_RATE = 44_100
AUDIO_SECONDS = 3.0
TEXT = (
    "small dog barking near the busy street while people talk and a car passes "
    "by in the evening rain zorakai"
)


@dataclass(frozen=True)
class Workload:
    """The three uploads of every benchmark request, as bytes."""

    image: bytes
    audio: bytes
    text: str

    def multipart(self, boundary: str | None = None) -> tuple[bytes, str]:
        """The request body as ``curl -F`` sends it, and its Content-Type."""
        boundary = boundary or uuid.uuid4().hex
        parts = [
            _part(boundary, 'name="image"; filename="photo.jpg"', "image/jpeg", self.image),
            _part(boundary, 'name="audio"; filename="clip.wav"', "audio/wav", self.audio),
            _part(boundary, 'name="text"', None, self.text.encode("utf-8")),
        ]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"

    def save(self, folder: Path) -> dict[str, str]:
        """Write the files (photo.jpg, clip.wav, text.txt) and return their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "image": folder / "photo.jpg",
            "audio": folder / "clip.wav",
            "text": folder / "text.txt",
        }
        paths["image"].write_bytes(self.image)
        paths["audio"].write_bytes(self.audio)
        paths["text"].write_text(self.text + "\n", encoding="utf-8")
        return {name: str(path) for name, path in paths.items()}

    @classmethod
    def load(cls, folder: Path) -> Workload:
        """Read the files ``save`` wrote."""
        return cls(
            image=(folder / "photo.jpg").read_bytes(),
            audio=(folder / "clip.wav").read_bytes(),
            text=(folder / "text.txt").read_text(encoding="utf-8").strip(),
        )


def _part(boundary: str, disposition: str, content_type: str | None, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def make_workload(seed: int = SEED) -> Workload:
    """The seeded workload."""
    return Workload(image=photo_jpeg(seed), audio=speech_wav(seed), text=TEXT)


def photo_jpeg(seed: int = SEED, size: tuple[int, int] = IMAGE_SIZE) -> bytes:
    """A photo-like JPEG: sky and ground gradients, soft shapes, sensor noise; quality 90."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    width, height = size
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    sky = np.array([90, 150, 230], np.float32) * (1 - y) + np.array([200, 220, 240], np.float32) * y
    ground = (
        np.array([70, 110, 50], np.float32) * (1.4 - y) + np.array([30, 20, 10], np.float32) * x
    )
    horizon = 0.55 + 0.05 * np.sin(6.0 * x)
    pixels = np.where(y < horizon, sky, ground) + 12.0 * np.sin(9.0 * x + 4.0 * y)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(24):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(20, 260), rng.integers(20, 200)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=2))
    noisy = np.asarray(image, np.float32) + rng.normal(0.0, 6.0, (height, width, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
        buf, format="JPEG", quality=JPEG_QUALITY
    )
    return buf.getvalue()


def speech_wav(seed: int = SEED, rate: int = AUDIO_RATE, seconds: float = AUDIO_SECONDS) -> bytes:
    """Speech-like 16-bit stereo WAV: a gliding pitch with harmonics, syllable bursts, noise."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(round(rate * seconds)) / rate
    pitch = 140.0 + 35.0 * np.sin(2 * np.pi * 0.7 * t) + 15.0 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    # Harmonics weighted by two fixed "formant" bumps, as a vowel's spectrum roughly is.
    voice = sum(
        np.sin(k * phase) / k * (1.0 + 2.0 * np.exp(-(((k * 140 - 700) / 300) ** 2)))
        for k in range(1, 16)
    )
    syllables = np.clip(np.sin(2 * np.pi * 2.3 * t), 0.0, None) ** 0.6
    signal = voice * syllables
    signal = 0.6 * signal / np.max(np.abs(signal))
    left = signal + 0.02 * rng.standard_normal(t.size)
    right = 0.9 * np.roll(signal, 12) + 0.02 * rng.standard_normal(t.size)
    buf = io.BytesIO()
    sf.write(buf, np.stack([left, right], axis=1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
