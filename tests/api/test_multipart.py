"""The in-memory multipart parser on bodies written by hand, including broken ones."""

from __future__ import annotations

import pytest

from app.api.multipart import MAX_PARTS, parse_multipart
from app.errors import BadRequest

B = "xyz"


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
    assert parse_multipart(raw, B) == expected


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
        (body(*[FIELD] * (MAX_PARTS + 1)), "more than"),
    ],
)
def test_malformed_is_400(raw, fragment):
    with pytest.raises(BadRequest, match=fragment):
        parse_multipart(raw, B)


def test_missing_boundary_is_400():
    with pytest.raises(BadRequest, match="boundary"):
        parse_multipart(body(FIELD), "")
