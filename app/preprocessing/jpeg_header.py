"""A JPEG's frame header checked against the bytes that follow it, before decoding.

libjpeg fills what a file lacks with grey and carries on, so a header that claims 3000 x 3000
over a few hundred bytes of data would decode "successfully"; this check refuses it instead.
"""

from __future__ import annotations

import math
import struct

# Sequential Huffman-coded frames (baseline and extended). Progressive and arithmetic-coded
# frames can code runs of empty blocks in almost no bits, so no size bound holds for them.
_SEQUENTIAL_HUFFMAN = (0xC0, 0xC1)
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Each 8x8 block of a sequential Huffman scan costs at least one code for its DC difference and
# one for its end of block; codes are at least a bit long.
_MIN_BITS_PER_BLOCK = 2
_MAX_MARKERS = 1000


def jpeg_shortfall(data: bytes) -> tuple[int, int] | None:
    """(blocks the header needs, blocks the bytes could hold) when the file is too short for
    its own frame header; None when it could be long enough or the header is not one we bound."""
    frame = _frame_header(data)
    if frame is None:
        return None
    height, width, sampling = frame
    h_max = max(h for h, _ in sampling)
    v_max = max(v for _, v in sampling)
    # Blocks per component: the fewest any sequential scan layout (interleaved or not) codes.
    blocks = sum(
        math.ceil(math.ceil(width * h / h_max) / 8) * math.ceil(math.ceil(height * v / v_max) / 8)
        for h, v in sampling
    )
    capacity = len(data) * 8 // _MIN_BITS_PER_BLOCK
    return (blocks, capacity) if blocks > capacity else None


def _frame_header(data: bytes) -> tuple[int, int, list[tuple[int, int]]] | None:
    """(height, width, [(h, v) per component]) of a sequential Huffman frame, else None."""
    offset = 2  # after SOI
    for _ in range(_MAX_MARKERS):
        if offset + 4 > len(data) or data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        (length,) = struct.unpack_from(">H", data, offset + 2)
        if marker in _SOF_MARKERS:
            if marker not in _SEQUENTIAL_HUFFMAN or offset + 10 > len(data):
                return None
            height, width, count = struct.unpack_from(">HHB", data, offset + 5)
            start = offset + 10
            if count == 0 or start + 3 * count > len(data):
                return None
            sampling = [
                (data[start + 3 * i + 1] >> 4, data[start + 3 * i + 1] & 0x0F) for i in range(count)
            ]
            if any(h == 0 or v == 0 for h, v in sampling):
                return None  # libjpeg refuses these itself
            return height, width, sampling
        offset += 2 + length
    return None
