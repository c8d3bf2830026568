"""Property tests of the in-memory multipart parser: round trips, and only 400/413 on garbage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.api.v1.multipart import parse_multipart
from app.errors import BadRequest, PayloadTooLarge
from tests.support.hostile import BOUNDARY, multipart

LIMITS = {"max_parts": 8, "max_field_bytes": 256}
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
PART = st.tuples(NAMES, st.binary(max_size=256), st.one_of(st.none(), NAMES))


@given(st.lists(PART, max_size=8))
def test_round_trip(parts):
    parsed = parse_multipart(multipart(*parts), BOUNDARY, **LIMITS)
    assert parsed == [(name, value, filename is not None) for name, value, filename in parts]


@given(st.binary(max_size=2048), st.text(max_size=80))
def test_garbage_is_only_400_or_413(body, boundary):
    try:
        parts = parse_multipart(body, boundary, **LIMITS)
    except (BadRequest, PayloadTooLarge):
        return
    assert len(parts) <= LIMITS["max_parts"]


@given(st.lists(PART, max_size=10), st.data())
def test_mangled_real_bodies_are_only_400_or_413(parts, data):
    body = bytearray(multipart(*parts))
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(body) - 1))
        body[where] = data.draw(st.integers(0, 255))
    try:
        parse_multipart(bytes(body), BOUNDARY, **LIMITS)
    except (BadRequest, PayloadTooLarge):
        pass
