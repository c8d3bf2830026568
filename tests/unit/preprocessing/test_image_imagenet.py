"""scale: caffe | torch against keras.applications' own preprocess_input, and uint8 inputs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.errors import BundleError
from app.preprocessing import ImagePreprocessor

SHAPES = {"channels_last": (24, 32, 3), "channels_first": (3, 24, 32)}


def make(shape, dtype: str = "float32", **params) -> ImagePreprocessor:
    return ImagePreprocessor(params, bundle_dir=Path("."), shape=shape, dtype=dtype)


def photo(width: int = 80, height: int = 50, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["caffe", "torch"])
@pytest.mark.parametrize("layout", SHAPES)
@pytest.mark.parametrize("resize", ["stretch", "crop", "pad"])
def test_equals_keras_preprocess_input(mode, layout, resize):
    from keras.applications import imagenet_utils

    data = photo()
    shape = SHAPES[layout]
    pixels = make(shape, layout=layout, resize=resize, scale="none")(data)  # resized, 0-255
    expected = imagenet_utils.preprocess_input(pixels.copy(), data_format=layout, mode=mode)
    out = make(shape, layout=layout, resize=resize, scale=mode)(data)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_caffe_is_bgr_minus_the_mean_on_a_solid_colour():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 10)).save(buf, "PNG")
    out = make((4, 4, 3), scale="caffe")(buf.getvalue())
    np.testing.assert_allclose(out[0, 0], [10 - 103.939, 30 - 116.779, 200 - 123.68], atol=1e-4)


@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_describe_names_the_convention(mode):
    described = make((3, 8, 8), layout="channels_first", scale=mode).describe()
    json.dumps(described)
    assert described["scale"] == mode
    if mode == "torch":
        assert described["std"] == pytest.approx([0.229, 0.224, 0.225])
    else:
        assert described["channel_order"] == "BGR" and described["mean"][0] == pytest.approx(
            103.939
        )


def test_uint8_input_takes_the_pixels_themselves_by_default():
    data = photo()
    raw = make((24, 32, 3), dtype="uint8")
    assert raw.scale == "none" and raw.describe()["scale"] == "none"
    out = raw(data)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, make((24, 32, 3), scale="none")(data).astype(np.uint8))


@pytest.mark.parametrize(
    "shape,dtype,params,message",
    [
        ((8, 8, 1), "float32", {"scale": "caffe"}, "scale 'caffe' is for RGB models (3 channels)"),
        ((8, 8), "float32", {"scale": "torch"}, "the model input has 1"),
        ((8, 8, 3), "float32", {"scale": "torch", "mean": [0, 0, 0]}, "only used with scale"),
        ((8, 8, 3), "uint8", {"scale": "unit"}, "only scale 'none' can feed a uint8 input"),
        ((8, 8, 3), "uint8", {"scale": "caffe"}, "scale 'caffe' gives floats"),
        ((8, 8, 3), "int32", {}, "scale 'unit' gives floats but the model input is int32"),
        ((8, 8, 3), "float32", {"scale": "tf"}, "scale 'tf'; known: ['unit', "),
    ],
)
def test_bundle_errors(shape, dtype, params, message):
    with pytest.raises(BundleError) as caught:
        make(shape, dtype, **params)
    assert message in str(caught.value)
