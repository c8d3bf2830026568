"""flatten: a page lit from one side reads like an evenly lit one, the lighting divided out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.errors import BundleError
from tests.support.media import digit_image
from tests.unit.preprocessing.test_image_content import iou, make

# A shaded page against the same page evenly lit, with flatten: the strokes overlap (intersection
# over union of features above 0.5) and what differs (a residue of the gradient on its dark side,
# in [0, 1] units) is at most this share of what differs without flatten.
FLAT_MIN_IOU, FLAT_MAX_RESIDUE = 0.8, 0.35


def shaded(
    data: bytes, darkest: float, *, colour: tuple[float, float, float] | None = None
) -> bytes:
    """The page of ``data`` under a light falling from bright (left) to ``darkest`` (right)."""
    grey = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
    ramp = np.linspace(1.0, darkest, grey.shape[1], dtype=np.float32)[None, :]
    page = grey * ramp
    if colour is not None:  # tinted paper and ink under the same light
        page = page[..., None] * np.array(colour, dtype=np.float32)
    buf = io.BytesIO()
    Image.fromarray(page.clip(0, 255).round().astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("crop", ["none", "content"])
@pytest.mark.parametrize("darkest", [0.6, 0.4])
def test_a_shaded_page_reads_like_an_evenly_lit_one(crop, darkest):
    page = digit_image(frame=(120, 120), height=80, ink=30, paper=240)
    even = make(polarity="auto", crop=crop, flatten=True)(page)
    flat = make(polarity="auto", crop=crop, flatten=True)(shaded(page, darkest))
    assert iou(flat, even) >= FLAT_MIN_IOU
    assert flat.max() > 0.8 and np.mean(flat > 0.5) < 0.3  # ink high, paper low
    # Without it the dark side of the paper reads as ink.
    raw = make(polarity="auto", crop=crop)(shaded(page, darkest))
    residue, unflattened = np.mean(np.abs(flat - even)), np.mean(np.abs(raw - even))
    assert residue <= FLAT_MAX_RESIDUE * unflattened, (residue, unflattened)


def test_chalk_on_a_shaded_board_and_tinted_paper_too():
    reference = make(polarity="auto", crop="content", flatten=True)(
        digit_image(frame=(120, 120), height=80)
    )
    for data in (
        shaded(digit_image(frame=(120, 120), height=80, ink=230, paper=40), 0.5),
        shaded(
            digit_image(frame=(120, 120), height=80, ink=40, paper=230), 0.5, colour=(1, 0.85, 0.6)
        ),
    ):
        got = make(shape=(28, 28, 1), polarity="auto", crop="content", flatten=True)(data)
        assert iou(got, reference) >= FLAT_MIN_IOU


def test_an_even_page_keeps_its_features():
    page = digit_image(frame=(120, 120), height=80)
    plain = make(polarity="auto", crop="content")(page)
    flat = make(polarity="auto", crop="content", flatten=True)(page)
    assert np.mean(np.abs(plain - flat)) <= 0.01


def test_blank_and_all_ink_pages_still_give_features():
    pre = make(polarity="auto", crop="content", flatten=True)
    for level in (0, 128, 255):
        buf = io.BytesIO()
        Image.new("L", (64, 48), level).save(buf, format="PNG")
        features = pre(buf.getvalue())
        assert features.shape == (28, 28, 1) and np.isfinite(features).all()


def test_flatten_needs_auto_polarity_and_a_boolean():
    with pytest.raises(BundleError, match="polarity 'auto'"):
        make(flatten=True)
    with pytest.raises(BundleError, match="flatten must be true or false"):
        make(polarity="auto", flatten="yes")
    assert make(polarity="auto", flatten=True).describe()["flatten"] is True
    assert make().describe()["flatten"] is False
