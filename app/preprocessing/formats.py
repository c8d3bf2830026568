"""Container formats told apart by their first bytes, never by file name or Content-Type."""

from __future__ import annotations

from app.errors import UnprocessableInput, UnsupportedMediaType

# Names are the ones users see in errors and metadata.
JPEG, PNG, WEBP, BMP = "JPEG", "PNG", "WebP", "BMP"
WAV, FLAC, OGG, MP3 = "WAV", "FLAC", "OGG/Vorbis", "MP3"

IMAGE_FORMATS = (JPEG, PNG, WEBP, BMP)
AUDIO_FORMATS = (WAV, FLAC, OGG, MP3)


def _is_mp3_frame(head: bytes) -> bool:
    # MPEG audio frame sync: 11 set bits, then a layer field that is not 00 (00 is AAC/ADTS).
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0


def sniff(data: bytes) -> str | None:
    """The format name of ``data``, including formats we refuse (so errors can name them)."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"BM"):
        return BMP
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") or _is_mp3_frame(head):
        return MP3
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        return "MP4/HEIF"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    return None


def sniff_upload(data: bytes | str, modality: str, accepted: tuple[str, ...]) -> str:
    """The format of one file upload, or the error refusing it: text (415), no bytes (422), a
    format not in ``accepted`` (415, named)."""
    if isinstance(data, str):
        raise UnsupportedMediaType(
            f'{modality}: got text; send the file\'s bytes (a file part or {{"b64": ...}})',
            field=modality,
        )
    if not data:
        raise UnprocessableInput(f"{modality}: empty", field=modality)
    fmt = sniff(data)
    if fmt not in accepted:
        raise UnsupportedMediaType(
            f"{modality}: bytes are {fmt or 'not a recognised format'}; "
            f"accepted: {', '.join(accepted)}",
            field=modality,
        )
    return fmt
