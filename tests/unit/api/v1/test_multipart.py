"""The in-memory multipart parser on bodies written by hand, including broken ones."""

from __future__ import annotations

import pytest

from app.api.v1.multipart import parse_multipart
from app.errors import BadRequest, PayloadTooLarge

B = "xyz"
MAX_PARTS = 4
MAX_FIELD = 16


def parse(raw: bytes, boundary: str = B) -> list[tuple[str, bytes, bool]]:
    return parse_multipart(raw, boundary, max_parts=MAX_PARTS, max_field_bytes=MAX_FIELD)


def body(*parts: bytes, close: bool = True, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = preamble
    for part in parts:
        out += b"--xyz\r\n" + part + b"\r\n"
    return out + (b"--xyz--\r\n" + epilogue if close else b"")


FIELD = b'Content-Disposition: form-data; name="text"\r\n\r\nseven'
FILE = (
    b'Content-Disposition: form-data; name="image"; filename="caf\xc3\xa9.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--xy data"
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        (body(FIELD), [("text", b"seven", False)]),
        (
            body(FIELD, FILE),
            [("text", b"seven", False), ("image", b"\x89PNG\r\n\r\n--xy data", True)],
        ),
        (
            body(FIELD, preamble=b"ignored\r\n", epilogue=b"also ignored"),
            [("text", b"seven", False)],
        ),
        (body(b'Content-Disposition: form-data; name="e"\r\n\r\n'), [("e", b"", False)]),
        (b"--xyz  \t\r\n" + FIELD + b"\r\n--xyz--", [("text", b"seven", False)]),  # padding
        (body(), []),
    ],
)
def test_parses(raw, expected):
    assert parse(raw) == expected


@pytest.mark.parametrize(
    "raw,fragment",
    [
        (body(FIELD, close=False), "closing boundary"),
        (b"no boundary at all", "closing boundary"),
        (body(b"Content-Type: text/plain\r\n\r\nx"), "Content-Disposition"),
        (body(b'Content-Disposition: attachment; name="a"\r\n\r\nx'), "Content-Disposition"),
        (body(b"Content-Disposition form-data\r\n\r\nx"), "no ':'"),
        (body(b'Content-Disposition: form-data; name="a"'), "end of headers"),
        (b"--xyzjunk\r\n" + FIELD + b"\r\n--xyz--", "garbage"),
    ],
)
def test_malformed_is_400(raw, fragment):
    with pytest.raises(BadRequest, match=fragment):
        parse(raw)


@pytest.mark.parametrize("boundary", ["", "x" * 201, "caf\u00e9\u4e03"])
def test_unusable_boundary_is_400(boundary):
    with pytest.raises(BadRequest, match="boundary"):
        parse(body(FIELD), boundary)


def test_parts_at_the_limit_pass_and_one_more_is_413():
    assert len(parse(body(*[FIELD] * MAX_PARTS))) == MAX_PARTS
    with pytest.raises(PayloadTooLarge, match=f"limit of {MAX_PARTS} parts"):
        parse(body(*[FIELD] * (MAX_PARTS + 1)))


def test_thousands_of_tiny_parts_are_413_without_splitting():
    with pytest.raises(PayloadTooLarge):
        parse(body(*[b'Content-Disposition: form-data; name="a"\r\n\r\n'] * 5000))


def test_form_field_at_the_limit_passes_and_one_byte_over_is_413_naming_it():
    def field(size: int) -> bytes:
        return b'Content-Disposition: form-data; name="top_k"\r\n\r\n' + b"1" * size

    assert parse(body(field(MAX_FIELD))) == [("top_k", b"1" * MAX_FIELD, False)]
    with pytest.raises(PayloadTooLarge, match=f"top_k: .* limit of {MAX_FIELD} bytes") as info:
        parse(body(field(MAX_FIELD + 1)))
    assert info.value.field == "top_k"
    big_file = FILE + b"x" * (MAX_FIELD * 2)  # file parts have their per-modality caps instead
    assert parse(body(big_file))[0][0] == "image"
