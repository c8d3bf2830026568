"""A corpus of hostile uploads, made from real files by the tests, each with its documented answer,
and JSON nested past its limit in every JSON body the service parses.

Used by the API tests (Flask client), the end-to-end gunicorn test and the fuzz target's seeds.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tests.support.media import audio_bytes, image_bytes


@dataclass(frozen=True)
class Hostile:
    """One upload: the part it goes in, its bytes, and the status and error code it must get."""

    name: str
    part: str
    data: bytes
    status: int
    code: str


UNSUPPORTED = (415, "unsupported_media_type")
UNPROCESSABLE = (422, "unprocessable_input")


def _png_with_size(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR (with a valid CRC) claims ``width`` x ``height``."""
    png = bytearray(image_bytes("PNG", size=(8, 8)))
    ihdr = png.index(b"IHDR")
    png[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    png[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(png[ihdr : ihdr + 17])))
    return bytes(png)


def _png_bomb() -> bytes:
    """A real 1-bit 9000 x 9000 PNG: ~10 KB on the wire, 81 million pixels decoded."""
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 header claims ``width`` x ``height``."""
    jpeg = bytearray(image_bytes("JPEG", size=(16, 16)))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(jpeg)


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (16, 16), (60 * i, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=50)
    return buf.getvalue()


def _webp_canvas_claims_huge() -> bytes:
    """A real animated WebP whose VP8X canvas claims 16777216 x 16777216 (found by the fuzzer)."""
    webp = bytearray(_animated("WEBP"))
    assert webp[12:16] == b"VP8X", "Pillow's animated WebP layout changed"
    webp[24:30] = b"\xff" * 6  # canvas width - 1 and height - 1, 24 bits each
    return bytes(webp)


def _wav(**kwargs) -> bytes:
    return audio_bytes("WAV", subtype=kwargs.pop("subtype", "PCM_16"), **kwargs)


def _wav_patched(offset: int, fmt: str, value: int, **kwargs) -> bytes:
    """A real PCM WAV (fmt chunk at 12, data at 36) with one header field overwritten."""
    wav = bytearray(_wav(**kwargs))
    assert wav[36:40] == b"data", "soundfile's PCM WAV layout changed"
    struct.pack_into(fmt, wav, offset, value)
    return bytes(wav)


def _flac_claiming(total_samples: int) -> bytes:
    """A real 0.2 s FLAC whose STREAMINFO claims ``total_samples``."""
    flac = bytearray(audio_bytes("FLAC", rate=16000, seconds=0.2))
    (packed,) = struct.unpack_from(">Q", flac, 18)  # rate(20) channels(3) bits(5) total(36)
    struct.pack_into(">Q", flac, 18, (packed & ~((1 << 36) - 1)) | total_samples)
    return bytes(flac)


def _ogg_broken_pages() -> bytes:
    """A real Ogg/Vorbis file whose pages after the first have lost their capture pattern."""
    ogg = audio_bytes("OGG", rate=16000, seconds=0.5)
    return ogg[:4] + ogg[4:].replace(b"OggS", b"OggX")


def _tag_only_mp3() -> bytes:
    # An ID3v2.4 tag (syncsafe size 256) and nothing after it: no MPEG frame at all.
    return b"ID3\x04\x00\x00\x00\x00\x02\x00" + bytes(256)


@cache
def corpus() -> tuple[Hostile, ...]:
    """Every hostile upload, built once per process."""
    jpeg = image_bytes("JPEG", size=(64, 48))
    png = image_bytes("PNG", size=(64, 48))
    webp = image_bytes("WEBP", size=(64, 48))
    ogg = audio_bytes("OGG", rate=16000, seconds=0.5)
    cases = [
        # Images
        ("gif_named_png", "image", b"GIF89a" + bytes(64), *UNSUPPORTED),
        ("pdf_as_image", "image", b"%PDF-1.7\n" + bytes(64), *UNSUPPORTED),
        ("tiff_as_image", "image", image_bytes("TIFF"), *UNSUPPORTED),
        ("wav_as_image", "image", _wav(seconds=0.1), *UNSUPPORTED),
        ("noise_as_image", "image", np.random.default_rng(1).bytes(2048), *UNSUPPORTED),
        ("empty_image", "image", b"", *UNPROCESSABLE),
        ("png_bomb_decodes_huge", "image", _png_bomb(), *UNPROCESSABLE),
        ("png_header_claims_huge", "image", _png_with_size(100_000, 100_000), *UNPROCESSABLE),
        ("png_width_0", "image", _png_with_size(0, 8), *UNPROCESSABLE),
        ("png_header_larger_than_data", "image", _png_with_size(4000, 4000), *UNPROCESSABLE),
        ("jpeg_claims_huge", "image", _jpeg_with_size(60_000, 60_000), *UNPROCESSABLE),
        ("jpeg_claims_more_than_data", "image", _jpeg_with_size(3000, 3000), *UNPROCESSABLE),
        ("jpeg_height_0", "image", _jpeg_with_size(16, 0), *UNPROCESSABLE),
        ("truncated_jpeg", "image", jpeg[: len(jpeg) // 2], *UNPROCESSABLE),
        ("truncated_png", "image", png[: len(png) // 2], *UNPROCESSABLE),
        ("truncated_webp", "image", webp[: len(webp) // 2], *UNPROCESSABLE),
        ("bmp_header_only", "image", image_bytes("BMP")[:30], *UNPROCESSABLE),
        ("animated_png", "image", _animated("PNG"), *UNPROCESSABLE),
        ("animated_webp", "image", _animated("WEBP"), *UNPROCESSABLE),
        ("webp_canvas_claims_huge", "image", _webp_canvas_claims_huge(), *UNPROCESSABLE),
        # Audio
        ("aiff_as_audio", "audio", audio_bytes("AIFF", seconds=0.1), *UNSUPPORTED),
        ("png_as_audio", "audio", png, *UNSUPPORTED),
        ("mp4_as_audio", "audio", b"\x00\x00\x00\x20ftypisom" + bytes(64), *UNSUPPORTED),
        ("empty_audio", "audio", b"", *UNPROCESSABLE),
        # The data chunk claims 30 s; 0.1 s follows (libsndfile would quietly shorten it).
        (
            "wav_claims_more_frames",
            "audio",
            _wav_patched(40, "<I", 16000 * 2 * 30, seconds=0.1),
            *UNPROCESSABLE,
        ),
        (
            "wav_claims_hours",
            "audio",
            _wav_patched(40, "<I", 0xFFFFFFF0, seconds=0.1),
            *UNPROCESSABLE,
        ),
        ("wav_header_only", "audio", _wav(seconds=0.1)[:44], *UNPROCESSABLE),
        ("wav_rate_1hz", "audio", _wav_patched(24, "<I", 1, seconds=0.1), *UNPROCESSABLE),
        ("wav_rate_4khz", "audio", _wav(rate=4000, seconds=0.2), *UNPROCESSABLE),
        ("wav_rate_96khz", "audio", _wav(rate=96000, seconds=0.1), *UNPROCESSABLE),
        (
            "wav_rate_absurd",
            "audio",
            _wav_patched(24, "<I", 2_000_000_000, seconds=0.1),
            *UNPROCESSABLE,
        ),
        ("wav_16_channels", "audio", _wav(channels=16, seconds=0.05), *UNPROCESSABLE),
        ("wav_0_channels", "audio", _wav_patched(22, "<H", 0, seconds=0.1), *UNPROCESSABLE),
        (
            "wav_65535_channels",
            "audio",
            _wav_patched(22, "<H", 65535, seconds=0.1),
            *UNPROCESSABLE,
        ),
        (
            "wav_too_long",
            "audio",
            audio_bytes("WAV", rate=8000, seconds=61, subtype="PCM_U8"),
            *UNPROCESSABLE,
        ),
        (
            "wav_gsm_subtype",
            "audio",
            audio_bytes("WAV", rate=8000, seconds=0.2, subtype="GSM610"),
            *UNPROCESSABLE,
        ),
        (
            "ogg_opus_subtype",
            "audio",
            audio_bytes("OGG", rate=48000, seconds=0.2, subtype="OPUS"),
            *UNPROCESSABLE,
        ),
        ("flac_claims_more_frames", "audio", _flac_claiming(16000 * 30), *UNPROCESSABLE),
        ("flac_claims_zero_rate", "audio", b"fLaC" + bytes(60), *UNPROCESSABLE),
        ("tag_only_mp3", "audio", _tag_only_mp3(), *UNPROCESSABLE),
        ("ogg_broken_pages", "audio", _ogg_broken_pages(), *UNPROCESSABLE),
        ("truncated_ogg", "audio", ogg[:200], *UNPROCESSABLE),
        # Text
        ("text_invalid_utf8", "text", b"the \xff\xfe cat", *UNPROCESSABLE),
        ("text_overlong_utf8", "text", b"the \xc0\xaf cat", *UNPROCESSABLE),
        ("text_nul", "text", b"the\x00cat", *UNPROCESSABLE),
        ("text_escape", "text", b"the \x1b[31mcat", *UNPROCESSABLE),
        ("text_del", "text", b"the cat\x7f", *UNPROCESSABLE),
        ("text_c1_control", "text", "the \x85cat".encode(), *UNPROCESSABLE),
        ("text_only_spaces", "text", b" \t\r\n ", *UNPROCESSABLE),
    ]
    return tuple(Hostile(*case) for case in cases)


BOUNDARY = "hostile-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[str, bytes, str | None]) -> bytes:
    """A multipart body of (name, value, filename or None for a plain field) parts."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def upload(case: Hostile) -> bytes:
    """The multipart body that carries ``case``: text as a plain field, media as a file."""
    return multipart((case.part, case.data, None if case.part == "text" else "upload.bin"))


def body_of_size(size: int) -> bytes:
    """A valid multipart body of exactly ``size`` bytes: a PNG with zero bytes after its end
    (decoders stop at IEND, as browsers do)."""
    png = image_bytes("PNG", size=(16, 16))
    pad = size - len(multipart(("image", png, "a.png")))
    assert pad >= 0
    return multipart(("image", png + bytes(pad), "a.png"))


def preprocessors(vocab_dir: Path) -> dict[str, Any]:
    """One real preprocessor per modality, with the tiny test bundle's parameters."""
    from app.preprocessing import AudioPreprocessor, ImagePreprocessor, TextPreprocessor
    from tests.support.bundles import AUDIO_PARAMS, AUDIO_SHAPE, IMAGE_SHAPE, TEXT_LENGTH, VOCAB

    (vocab_dir / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    here = {"bundle_dir": vocab_dir, "dtype": "float32"}
    return {
        "image": ImagePreprocessor({"max_pixels": 4_000_000}, shape=IMAGE_SHAPE, **here),
        "audio": AudioPreprocessor(dict(AUDIO_PARAMS), shape=AUDIO_SHAPE, **here),
        "text": TextPreprocessor(
            {"vocabulary": "vocab.txt"}, bundle_dir=vocab_dir, shape=(TEXT_LENGTH,), dtype="int32"
        ),
    }


def seeds() -> list[bytes]:
    """Real, valid files of every accepted format: the starting points for mutation."""
    return [
        *(image_bytes(fmt, size=(24, 16)) for fmt in ("JPEG", "PNG", "WEBP", "BMP")),
        *(audio_bytes(fmt, rate=8000, seconds=0.3) for fmt in ("WAV", "FLAC", "OGG", "MP3")),
        "the café 七 cat".encode(),
    ]


# JSON nested past max_json_depth: the documents, then every JSON body the service parses.
NESTING = 100_000
V2_INFER = "/v2/models/tiny/infer"


@dataclass(frozen=True)
class NestedJson:
    """A request whose JSON nests past the depth limit: where it goes and what it carries."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str]

    @property
    def v2(self) -> bool:
        return self.path.startswith("/v2/")


def json_bombs(depth: int = NESTING) -> dict[str, bytes]:
    """JSON documents ``depth`` levels deep: arrays, objects, both, and arrays never closed."""
    half, odd = divmod(depth, 2)
    return {
        "arrays": b"[" * depth + b"]" * depth,
        "objects": b'{"a":' * depth + b"1" + b"}" * depth,
        "mixed": b'[{"a":' * half + b"[" * odd + b"1" + b"]" * odd + b"}]" * half,
        "unclosed": b"[" * depth,
    }


def nested_json_requests(depth: int = NESTING) -> list[NestedJson]:
    """Each bomb as a v1 body, a v1 value, a v1 instance, v2 JSON data and a v2 binary header."""
    as_json = {"Content-Type": "application/json"}
    tensor = b'{"name": "text", "datatype": "BYTES", "shape": [1], '
    out = []
    for kind, bomb in json_bombs(depth).items():
        head = b'{"inputs": [' + tensor + b'"parameters": {"binary_data_size": 7, "x": '
        head += bomb + b"}}]}"
        binary = {"Inference-Header-Content-Length": str(len(head))}
        value = b'{"text": "cat", "image": {"b64": ' + bomb + b"}}"
        instance = b'{"instances": [{"text": "cat"}, ' + bomb + b"]}"
        bodies = {
            "v1_body": ("/predict", bomb, as_json),
            "v1_value": ("/predict", value, as_json),
            "v1_instance": ("/predict", instance, as_json),
            "v2_json": (V2_INFER, b'{"inputs": [' + tensor + b'"data": ' + bomb + b"}]}", {}),
            "v2_binary_header": (V2_INFER, head + b"\x03\x00\x00\x00cat", binary),
        }
        out += [NestedJson(f"{where}_{kind}", *request) for where, request in bodies.items()]
    return out
