"""Audio headers checked against the service's limits and against the bytes that follow them.

Runs on what libsndfile read from the header, before a single sample is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from app.errors import UnprocessableInput
from app.preprocessing.formats import FLAC, MP3, OGG, WAV

# libsndfile's container names for each sniffed format; anything else means libsndfile read the
# bytes as a format we did not sniff, which we do not decode.
CONTAINERS = {WAV: {"WAV", "WAVEX", "RF64"}, FLAC: {"FLAC"}, OGG: {"OGG"}, MP3: {"MP3"}}
# Sample encodings decoded per container (the allow-list). Ogg/Opus, ADPCM, GSM and friends are
# refused: they are rare in uploads and each one is more decoder surface.
SUBTYPES = {
    WAV: {"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"},
    FLAC: {"PCM_S8", "PCM_16", "PCM_24"},
    OGG: {"VORBIS"},
    MP3: {"MPEG_LAYER_III"},
}
# Data sizes that streaming writers put in a WAV header before they know the length; libsndfile
# then reads to the end of the file, which is honest.
_WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
_MAX_CHUNKS = 1000


@dataclass(frozen=True)
class AudioLimits:
    """What an audio header may declare."""

    min_sample_rate: int
    max_sample_rate: int
    max_channels: int
    max_duration_s: float


def check_header(
    fmt: str,
    container: str,
    subtype: str,
    rate: int,
    channels: int,
    frames: int,
    limits: AudioLimits,
) -> None:
    """Refuse (422) a header outside the allow-list or the limits."""
    if container not in CONTAINERS[fmt]:
        _refuse(f"bytes start as {fmt} but decode as {container}")
    if subtype not in SUBTYPES[fmt]:
        accepted = ", ".join(sorted(SUBTYPES[fmt]))
        _refuse(f"{fmt} with {subtype} samples is not accepted; accepted: {accepted}")
    if not limits.min_sample_rate <= rate <= limits.max_sample_rate:
        _refuse(
            f"sample rate {rate} Hz is outside {limits.min_sample_rate}-{limits.max_sample_rate} Hz"
        )
    if not 1 <= channels <= limits.max_channels:
        _refuse(f"{channels} channels; accepted: 1 to {limits.max_channels}")
    if frames / rate > limits.max_duration_s:
        _refuse(f"{frames / rate:.1f} s is over the limit of {limits.max_duration_s:g} s")


def check_wav_data_size(data: bytes) -> None:
    """Refuse (422) a WAV whose data chunk claims more bytes than the upload holds.

    libsndfile quietly shortens such a file to what is there; a header that lies is refused
    instead, as a truncated upload would be.
    """
    declared, present = _wav_data_chunk(data)
    if declared is not None and declared > present:
        _refuse(
            f"the WAV header declares {declared} bytes of samples but only {present} follow it "
            "(truncated or lying header)"
        )


def _wav_data_chunk(data: bytes) -> tuple[int | None, int]:
    """(declared size or None when unknown/absent, bytes after the data chunk's header)."""
    rf64_size = None
    offset = 12  # RIFF/RF64, the RIFF size, WAVE
    for _ in range(_MAX_CHUNKS):
        if offset + 8 > len(data):
            return None, 0
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        if chunk_id == b"ds64" and offset + 24 <= len(data):
            (rf64_size,) = struct.unpack_from("<Q", data, offset + 16)
        if chunk_id == b"data":
            if size == 0xFFFFFFFF and rf64_size is not None:
                size = rf64_size
            elif size in _WAV_UNKNOWN_SIZES:
                return None, 0
            return size, len(data) - offset - 8
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return None, 0


def check_frames_read(fmt: str, expected: int, got: int) -> None:
    """Refuse (422) a file whose samples end well before its header says they do."""
    # MP3 lengths are the decoder's estimate (exact only with a LAME/Xing header): allow slack.
    slack = max(2304, expected // 20) if fmt == MP3 else 0
    if got + slack < expected:
        _refuse(
            f"the header declares at least {expected} frames but the data end after {got} "
            "(truncated or lying header)"
        )


def _refuse(reason: str) -> None:
    raise UnprocessableInput(f"audio: {reason}", field="audio")
