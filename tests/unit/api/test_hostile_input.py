"""No upload, however mangled, gets a 500: seeded mutations of real files through the API."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.support.media import audio_bytes, image_bytes

SEEDS = range(12)
ALLOWED = {200, 400, 413, 415, 422}


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buf = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:  # flip bytes anywhere, headers included
        for i in rng.integers(0, len(buf), 1 + len(buf) // 50):
            buf[i] = int(rng.integers(256))
    elif kind == 1:  # truncate
        buf = buf[: int(rng.integers(1, len(buf)))]
    elif kind == 2:  # keep the magic bytes, replace the rest with noise
        buf[16:] = rng.integers(0, 256, max(len(buf) - 16, 0), dtype=np.uint8).tobytes()
    else:  # splice another format's body behind this header
        buf = buf[:32] + bytes(rng.integers(0, 256, 4096, dtype=np.uint8))
    return bytes(buf)


ORIGINALS = {
    "image": [image_bytes(fmt, size=(40, 30)) for fmt in ("JPEG", "PNG", "WEBP", "BMP")],
    "audio": [audio_bytes(fmt, rate=16000, seconds=0.4) for fmt in ("WAV", "FLAC", "OGG", "MP3")],
    "text": ["café 七 😀".encode()],
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("part", sorted(ORIGINALS))
def test_mutated_uploads_never_500(client, part, seed):
    rng = np.random.default_rng(seed)
    for original in ORIGINALS[part]:
        data = _mutate(original, rng)
        resp = client.post(
            "/predict", data={part: (io.BytesIO(data), "f")}, content_type="multipart/form-data"
        )
        assert resp.status_code in ALLOWED, (part, seed, resp.get_data(as_text=True))
        assert "error" in resp.json or "outputs" in resp.json
