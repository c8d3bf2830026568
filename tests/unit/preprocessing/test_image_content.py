"""Optional image steps on real drawn digits: polarity from the image, content crop."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.errors import BundleError
from app.preprocessing.image import ImagePreprocessor
from tests.support.media import digit_image

# The digits bundle's own image parameters.
DIGITS = {"resize": "pad", "pad_value": 255, "interpolation": "area", "scale": "unit"}
# A small off-centre digit cropped from a 1280x720 frame against the same digit drawn large and
# centred, both after crop: content, in [0, 1] units: mean absolute difference per pixel, and
# intersection over union of the pixels above 0.5 (the strokes).
CROP_MEAN_ABS, CROP_MIN_IOU = 0.05, 0.75


def make(shape=(28, 28, 1), **params) -> ImagePreprocessor:
    return ImagePreprocessor(
        {**DIGITS, **params}, bundle_dir=Path("."), shape=shape, dtype="float32"
    )


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum((a > 0.5) & (b > 0.5)) / np.sum((a > 0.5) | (b > 0.5)))


@pytest.mark.parametrize("crop", ["none", "content"])
def test_auto_polarity_gives_the_same_features_for_either_ink(crop):
    pre = make(polarity="auto", crop=crop)
    pen = pre(digit_image(ink=20, paper=235))
    chalk = pre(digit_image(ink=235, paper=20))
    np.testing.assert_allclose(pen, chalk, atol=1 / 255)
    assert pen.max() > 0.8 and pen.mean() < 0.35  # ink high, paper low


def test_auto_polarity_matches_invert_on_pen_and_paper():
    data = digit_image()
    np.testing.assert_array_equal(make(polarity="auto")(data), make(invert=True)(data))


def test_fixed_polarity_reads_chalk_the_wrong_way_round():
    chalk = make(invert=True)(digit_image(ink=255, paper=0))
    assert chalk.mean() > 0.5  # the paper came out high: what polarity auto is for


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_small_off_centre_digit_is_cropped_to_look_like_a_large_centred_one(fmt):
    pre = make(polarity="auto", crop="content")
    large = pre(digit_image(frame=(280, 280), height=200))
    small = pre(digit_image(frame=(1280, 720), height=60, centre=(300, 200), fmt=fmt))
    assert np.mean(np.abs(large - small)) <= CROP_MEAN_ABS
    assert iou(large, small) >= CROP_MIN_IOU
    whole_frame = make(polarity="auto")(
        digit_image(frame=(1280, 720), height=60, centre=(300, 200))
    )
    assert iou(large, whole_frame) < 0.1  # without the crop the digit is a few pixels


def test_crop_centres_the_ink_by_mass():
    features = make(polarity="auto", crop="content")(
        digit_image("0", frame=(1280, 720), height=80, centre=(1100, 600))
    )[:, :, 0]
    rows, cols = np.indices(features.shape)
    mass = features.sum()
    centre = (rows * features).sum() / mass, (cols * features).sum() / mass
    np.testing.assert_allclose(centre, (13.5, 13.5), atol=1.0)


def test_crop_margin_is_declared():
    data = digit_image("1", frame=(640, 480), height=100)
    tight = make(crop="content", crop_margin=0.0, invert=True)(data)
    loose = make(crop="content", crop_margin=1.0, invert=True)(data)
    assert np.sum(tight > 0.5) > 2 * np.sum(loose > 0.5)


@pytest.mark.parametrize("noise", [0, 6])
def test_a_blank_image_falls_back_to_the_whole_frame(noise):
    rng = np.random.default_rng(0)
    pixels = np.clip(200 + rng.normal(0, noise, (720, 1280)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    cropped = make(polarity="auto", crop="content")(buf.getvalue())
    np.testing.assert_array_equal(cropped, make(polarity="auto")(buf.getvalue()))
    assert cropped.shape == (28, 28, 1) and np.all(np.isfinite(cropped))


def test_colour_model_crops_with_the_paper_colour():
    pixels = np.full((360, 640, 3), (230, 220, 190), dtype=np.uint8)  # tinted paper
    pixels[150:210, 500:520] = (20, 20, 120)  # a blue stroke near the right edge
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    pre = ImagePreprocessor(
        {"resize": "pad", "scale": "none", "crop": "content"},
        bundle_dir=Path("."),
        shape=(32, 32, 3),
        dtype="uint8",
    )
    out = pre(buf.getvalue())
    np.testing.assert_array_equal(out[0, 0], [230, 220, 190])  # the margin is paper, not black
    np.testing.assert_array_equal(out[16, 16], [20, 20, 120])  # the stroke is in the middle


@pytest.mark.parametrize(
    "params,key",
    [
        ({"polarity": "inverse"}, "polarity"),
        ({"polarity": True}, "polarity"),
        ({"polarity": "auto", "invert": True}, "invert"),
        ({"polarity": "auto", "invert": False}, "invert"),
        ({"crop": "ink"}, "crop"),
        ({"crop": "content", "crop_margin": -0.1}, "crop_margin"),
        ({"crop": "content", "crop_margin": "wide"}, "crop_margin"),
        ({"crop": "content", "crop_margin": float("nan")}, "crop_margin"),
        ({"crop_margin": 0.2}, "crop_margin"),
    ],
)
def test_bad_values_are_bundle_errors_naming_the_key(params, key):
    with pytest.raises(BundleError, match=key):
        make(**params)


def test_describe_shows_the_options():
    described = make().describe()
    assert described["polarity"] == "fixed" and described["crop"] == "none"
    assert "crop_margin" not in described
    described = make(polarity="auto", crop="content", crop_margin=0.3).describe()
    assert (described["polarity"], described["crop"], described["crop_margin"]) == (
        "auto",
        "content",
        0.3,
    )
