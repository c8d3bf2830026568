"""Pixel values (0-255) to the range a model was trained on, by the bundle's ``scale``."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.errors import BundleError

SCALES = ("unit", "symmetric", "standard", "none", "caffe", "torch")
# keras.applications' conventions (imagenet_utils.preprocess_input): caffe is BGR minus the
# ImageNet mean in 0-255 units; torch is [0, 1] minus the ImageNet mean, over its std.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGENET_SCALES = ("caffe", "torch")


def scale_of(params: dict[str, Any], dtype: np.dtype, channels: int) -> str:
    """The bundle's scale; a uint8 input takes the pixels themselves (scale 'none')."""
    default = "none" if dtype == np.uint8 else "unit"
    scale = params.get("scale", default)
    if scale not in SCALES:
        raise BundleError(f"scale {scale!r}; known: {list(SCALES)}")
    if dtype.kind != "f" and not (dtype == np.uint8 and scale == "none"):
        raise BundleError(
            f"scale {scale!r} gives floats but the model input is {dtype}; "
            "only scale 'none' can feed a uint8 input"
        )
    if scale in IMAGENET_SCALES and channels != 3:
        raise BundleError(
            f"scale {scale!r} is for RGB models (3 channels), the model input has {channels}"
        )
    return scale


def standardisation(
    params: dict[str, Any], scale: str, channels: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(mean, std) per channel in [0, 1] units: the bundle's for 'standard', ImageNet's for
    'torch', none otherwise."""
    if scale != "standard":
        if "mean" in params or "std" in params:
            raise BundleError(f"mean/std are only used with scale 'standard', not {scale!r}")
        return (TORCH_MEAN, TORCH_STD) if scale == "torch" else (None, None)
    arrays = []
    for key in ("mean", "std"):
        value = params.get(key)
        if not isinstance(value, list) or len(value) != channels:
            raise BundleError(
                f"scale 'standard' needs {key} as a list of {channels} numbers "
                f"(one per channel of the model input), got {value!r}"
            )
        try:
            arrays.append(np.array(value, dtype=np.float32))
        except (TypeError, ValueError):
            raise BundleError(f"{key} must be numbers, got {value!r}") from None
    if not np.all(arrays[1] > 0):
        raise BundleError(f"std must be positive, got {params['std']}")
    return arrays[0], arrays[1]


def scale_pixels(
    pixels: np.ndarray, scale: str, mean: np.ndarray | None, std: np.ndarray | None
) -> np.ndarray:
    """float32 pixels (H, W) or (H, W, C), 0-255, scaled; caffe also turns RGB into BGR."""
    if scale == "unit":
        return pixels / np.float32(255.0)
    if scale == "symmetric":
        return pixels / np.float32(127.5) - np.float32(1.0)
    if scale in ("standard", "torch"):
        return (pixels / np.float32(255.0) - mean) / std
    if scale == "caffe":
        return pixels[..., ::-1] - CAFFE_MEAN_BGR
    return pixels
