"""Property tests: the sniffer and every preprocessor, over random bytes and mutated real files,
only ever answer with a feature array or a documented 4xx ServiceError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import ServiceError
from app.preprocessing.formats import AUDIO_FORMATS, IMAGE_FORMATS, sniff
from tests.support.hostile import preprocessors, seeds

SEEDS = seeds()
MODALITIES = ("image", "audio", "text")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return preprocessors(tmp_path_factory.mktemp("vocab"))


def answer(pre, data: bytes | str) -> None:
    """Features of the model's shape, or a 4xx ServiceError; anything else fails the test."""
    try:
        out = pre(data)
    except ServiceError as exc:
        assert 400 <= exc.status < 500 and exc.field == pre.modality, exc
        return
    assert out.shape == pre.shape and out.dtype == pre.dtype
    assert np.isfinite(out).all()


@st.composite
def mutated_seed(draw: st.DrawFn) -> bytes:
    """A real file with bytes overwritten (mostly in the header), inserted or cut off."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, min(len(data), 512) - 1))
        if draw(st.booleans()):
            data[where] = draw(st.integers(0, 255))
        else:
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


@given(st.binary(max_size=64), st.binary(max_size=64))
def test_sniff_reads_only_the_first_16_bytes_and_never_raises(head, tail):
    fmt = sniff(head + tail)
    assert fmt is None or isinstance(fmt, str)
    if len(head) >= 16:
        assert fmt == sniff(head[:16])


@given(st.sampled_from(SEEDS[:8]))
def test_sniff_recognises_every_accepted_format(data):
    assert sniff(data) in IMAGE_FORMATS + AUDIO_FORMATS


@pytest.mark.parametrize("modality", MODALITIES)
@given(data=st.binary(max_size=4096))
def test_random_bytes(prepared, modality, data):
    answer(prepared[modality], data)


@pytest.mark.parametrize("modality", MODALITIES)
@given(data=mutated_seed())
def test_mutated_real_files(prepared, modality, data):
    answer(prepared[modality], data)


@given(text=st.text(max_size=300))
def test_random_text(prepared, text):
    answer(prepared["text"], text)
