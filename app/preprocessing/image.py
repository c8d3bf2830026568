"""Image bytes to a model's pixel tensor: decode, orient, fix the mode, find the ink (optional),
resize, scale."""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import BmpImagePlugin, Image, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from app.errors import BundleError, UnprocessableInput
from app.preprocessing.base import ignore_size
from app.preprocessing.formats import BMP, IMAGE_FORMATS, JPEG, PNG, WEBP, sniff_upload
from app.preprocessing.glyph import find_glyph
from app.preprocessing.image_scale import CAFFE_MEAN_BGR, scale_of, scale_pixels, standardisation
from app.preprocessing.ink import content_square, flatten_light, survey
from app.preprocessing.jpeg_header import jpeg_shortfall
from app.preprocessing.params import check_known, choice, flag, number

log = logging.getLogger(__name__)

LAYOUTS = ("channels_last", "channels_first")
RESIZE_POLICIES = ("stretch", "crop", "pad")
INTERPOLATIONS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
POLARITIES = ("fixed", "auto")
CROPS = ("none", "content", "object")
DEFAULT_CROP_MARGIN = 0.2  # MNIST: a 20-pixel box in a 28-pixel frame, 4 pixels (0.2) each side
KNOWN_PARAMS = {
    "layout", "size", "channels", "resize", "interpolation", "scale", "mean", "std",
    "invert", "pad_value", "max_pixels", "jpeg_draft", "polarity", "crop", "crop_margin", "flatten",
    "remove_frames",
}  # fmt: skip
DEFAULT_MAX_PIXELS = 40_000_000
ANIMATED_FORMATS = (PNG, WEBP)
# Let the JPEG decoder downscale (1/2, 1/4, 1/8) as long as the result stays at least the target
# size; the antialiased resize does the rest. DCT scaling is itself an averaging filter, so a gap
# of 1 stays within the draft tolerance the tests state, and a 720p photo for a 224 model decodes
# at 1/2 scale: 3.5 instead of 5.4 ms CPU for the bench image (Pillow's thumbnail uses 2).
DRAFT_REDUCING_GAP = 1

# Plugin classes are opened directly rather than through Image.open: only the sniffed format is
# tried, and Pillow's process-wide decompression-bomb check (a warning, then an error, with its own
# limit) is skipped because our own max_pixels check on the header governs.
_OPENERS = {
    JPEG: JpegImagePlugin.jpeg_factory,
    PNG: PngImagePlugin.PngImageFile,
    WEBP: WebPImagePlugin.WebPImageFile,
    BMP: BmpImagePlugin.BmpImageFile,
}
# Pillow reports a broken file with any of these, depending on the plugin and where it breaks.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error)
# EXIF orientation -> the transpose that undoes it (as in PIL.ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


class ImagePreprocessor:
    """Decodes JPEG/PNG/WebP/BMP with Pillow and produces the model's (H, W, C) or (C, H, W)."""

    modality: ClassVar[str] = "image"
    accepted_formats: ClassVar[tuple[str, ...]] = IMAGE_FORMATS
    #: Called with width x height of each image that passes the pixel limit (for the metrics).
    observe_size = staticmethod(ignore_size)

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        check_known(params, KNOWN_PARAMS, "image")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.layout = choice(params, "layout", LAYOUTS)
        self.height, self.width, self.channels = _geometry(self.shape, self.layout)
        if "size" in params and list(params["size"]) != [self.height, self.width]:
            raise BundleError(
                f"size {list(params['size'])} in bundle.yaml but the model input is "
                f"{self.height}x{self.width}"
            )
        if "channels" in params and params["channels"] != self.channels:
            raise BundleError(
                f"channels {params['channels']} in bundle.yaml but the model input has "
                f"{self.channels} (shape {self.shape}, {self.layout})"
            )
        self.resize = choice(params, "resize", RESIZE_POLICIES)
        self.interpolation = choice(params, "interpolation", tuple(INTERPOLATIONS))
        self.scale = scale_of(params, self.dtype, self.channels)
        self.mean, self.std = standardisation(params, self.scale, self.channels)
        self.invert = flag(params, "invert", False)
        self.polarity = choice(params, "polarity", POLARITIES)
        if self.polarity == "auto" and "invert" in params:
            raise BundleError("polarity 'auto' decides the inversion itself; drop invert")
        self.crop = choice(params, "crop", CROPS)
        if self.crop == "none" and "crop_margin" in params:
            raise BundleError(
                "crop_margin is only used with crop 'content' or 'object', not 'none'"
            )
        self.crop_margin = number(params, "crop_margin", DEFAULT_CROP_MARGIN, allow_zero=True)
        self.flatten = flag(params, "flatten", False)
        self.remove_frames = flag(params, "remove_frames", False)
        if self.remove_frames and self.crop == "none":
            raise BundleError(
                "remove_frames works on the ink the crop finds: it needs crop 'content' or 'object'"
            )
        if self.flatten and self.polarity != "auto":
            raise BundleError("flatten evens out paper under dark ink: it needs polarity 'auto'")
        # auto turns light-ink images into dark ink on light paper first, then inverts them all.
        self._invert_output = self.invert or self.polarity == "auto"
        self.jpeg_draft = flag(params, "jpeg_draft", True)
        self.pad_value = self._pad_value(params.get("pad_value", 0))
        self.max_pixels = params.get("max_pixels", DEFAULT_MAX_PIXELS)
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int):
            raise BundleError(f"max_pixels must be an integer, got {self.max_pixels!r}")
        if self.max_pixels <= 0:
            raise BundleError(f"max_pixels must be positive, got {self.max_pixels}")
        self._mode = "RGB" if self.channels == 3 else "L"
        self._resample = INTERPOLATIONS[self.interpolation]

    def _pad_value(self, value: Any) -> int | tuple[int, ...]:
        values = value if isinstance(value, list) else [value] * self.channels
        if len(values) != self.channels or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in values
        ):
            raise BundleError(
                f"pad_value must be an integer 0-255 or a list of {self.channels} of them, "
                f"got {value!r}"
            )
        return values[0] if self.channels == 1 else tuple(values)

    def __call__(self, data: bytes) -> np.ndarray:
        """The model's pixel tensor for one image file."""
        fmt = sniff_upload(data, "image", IMAGE_FORMATS)
        try:
            image = self.decode(data, fmt)
        except Image.DecompressionBombError:
            # Some plugins (animated WebP) check Pillow's own limit while reading the header.
            raise UnprocessableInput(
                f"image: {fmt} header declares more pixels than the limit of {self.max_pixels}",
                field="image",
            ) from None
        except _DECODE_ERRORS as exc:
            raise UnprocessableInput(f"image: cannot decode {fmt}: {exc}", field="image") from None
        try:
            image = self.fit(self.find_content(image))
        except _DECODE_ERRORS as exc:
            # The file decoded, so a failure here is ours: logged with its traceback, and the
            # client is told that its image could not be used, not that its file is corrupt.
            log.exception("image preprocessing failed on a decoded %s", fmt)
            raise UnprocessableInput(
                f"image: this {fmt} decoded but could not be preprocessed: {exc}", field="image"
            ) from None
        return self.to_array(image)

    def decode(self, data: bytes, fmt: str) -> Image.Image:
        """Header check, decode, EXIF orientation, and conversion to L or RGB: the first step of
        ``__call__`` for an upload of format ``fmt`` (as sniffed), public for the bench."""
        image = _OPENERS[fmt](io.BytesIO(data))
        width, height = image.size
        if width * height > self.max_pixels:
            raise UnprocessableInput(
                f"image: {width}x{height} pixels is over the limit of {self.max_pixels}",
                field="image",
            )
        if width == 0 or height == 0:
            raise UnprocessableInput(f"image: {width}x{height} has no pixels", field="image")
        # One frame only: which frame of an animation a model should see is not ours to guess.
        # (A multi-picture JPEG from a phone is not an animation: its first picture is the photo.)
        if fmt in ANIMATED_FORMATS and getattr(image, "is_animated", False):
            raise UnprocessableInput(
                f"image: animated {fmt} ({image.n_frames} frames); send a single still image",
                field="image",
            )
        if fmt == JPEG and (shortfall := jpeg_shortfall(data)):
            raise UnprocessableInput(
                f"image: the JPEG header claims {width}x{height} ({shortfall[0]} blocks) but the "
                f"file can hold at most {shortfall[1]} (truncated or lying header)",
                field="image",
            )
        self.observe_size(width * height)
        orientation = _orientation(image)
        # A content crop needs the full resolution: a small digit in a large photo would be a few
        # pixels after the decoder's downscale.
        if fmt == JPEG and self.jpeg_draft and self.crop == "none":
            target = (self.width, self.height)
            if orientation in (5, 6, 7, 8):  # the stored image is the transpose of what we see
                target = target[::-1]
            image.draft(None, tuple(DRAFT_REDUCING_GAP * side for side in target))
        image.load()
        if orientation in _ORIENTATION:
            image = image.transpose(_ORIENTATION[orientation])
        return self._convert(image)

    def _convert(self, image: Image.Image) -> Image.Image:
        if image.mode in _SIXTEEN_BIT_MODES:
            # Pillow clips I;16 to 0-255 when converting to L instead of rescaling the range.
            wide = np.asarray(image, dtype=np.float32)
            image = Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8))
        if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
            # Transparent areas become white, as a browser shows them on a blank page.
            rgba = image.convert("RGBA")
            canvas = Image.new(self._mode, image.size, (255,) * self.channels)
            canvas.paste(rgba.convert(self._mode), mask=rgba.getchannel("A"))
            return canvas
        return image if image.mode == self._mode else image.convert(self._mode)

    def find_content(self, image: Image.Image) -> Image.Image:
        """Polarity, flatten, frame removal and the crop, where the bundle asks for them (all off
        by default; a step of ``__call__``)."""
        if self.polarity == "fixed" and self.crop == "none":  # flatten needs polarity auto
            return image
        pixels = np.asarray(image)
        grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        page = survey(pixels, grey)
        if self.polarity == "auto" and not page.ink_dark:
            image = ImageOps.invert(image)
            grey = cv2.bitwise_not(grey)
            page = page.inverted()
        if self.flatten:  # after the polarity: the paper is the light side now
            pixels = flatten_light(np.asarray(image))
            image = Image.fromarray(pixels)
            grey = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
            page = survey(pixels, grey)
        if self.crop == "none":
            return image
        if self.crop == "object" or self.remove_frames:
            found = find_glyph(
                grey, page, self.crop_margin,
                pick=self.crop == "object", remove_frames=self.remove_frames,
            )  # fmt: skip
            if found.erase is not None:
                pixels = np.array(image)
                pixels[found.erase] = page.paper_color
                image = Image.fromarray(pixels)
            square = found.square
        else:
            square = content_square(grey, page, self.crop_margin)
        if square is None:  # no ink: the whole frame, as without the crop
            return image
        left, top, side = square
        canvas = Image.new(image.mode, (side, side), page.paper_color)
        right, bottom = min(image.width, left + side), min(image.height, top + side)
        box = (max(0, left), max(0, top), right, bottom)
        canvas.paste(image.crop(box), (box[0] - left, box[1] - top))
        return canvas

    def fit(self, image: Image.Image) -> Image.Image:
        """Resize to the model's H x W with the bundle's policy (a step of ``__call__``)."""
        size = (self.width, self.height)
        width, height = image.size
        if self.resize == "stretch":
            return image.resize(size, self._resample)
        if self.resize == "crop":
            # The largest centred box with the target's aspect ratio, resized in one step.
            crop_w = min(width, height * self.width / self.height)
            crop_h = min(height, width * self.height / self.width)
            left, top = (width - crop_w) / 2, (height - crop_h) / 2
            return image.resize(size, self._resample, box=(left, top, left + crop_w, top + crop_h))
        ratio = min(self.width / width, self.height / height)
        inner = (
            max(1, min(self.width, round(width * ratio))),
            max(1, min(self.height, round(height * ratio))),
        )
        canvas = Image.new(self._mode, size, self.pad_value)
        offset = ((self.width - inner[0]) // 2, (self.height - inner[1]) // 2)
        canvas.paste(image.resize(inner, self._resample), offset)
        return canvas

    def to_array(self, image: Image.Image) -> np.ndarray:
        """The model's tensor of a fitted image: inverted, scaled, laid out, cast (the last step
        of ``__call__``)."""
        pixels = np.asarray(image, dtype=np.float32)
        if self._invert_output:
            pixels = 255.0 - pixels
        pixels = scale_pixels(pixels, self.scale, self.mean, self.std)
        if pixels.ndim == 2 and len(self.shape) == 3:
            pixels = pixels[:, :, None]
        if self.layout == "channels_first" and pixels.ndim == 3:
            pixels = pixels.transpose(2, 0, 1)
        if self.dtype == np.uint8:
            pixels = np.rint(pixels)
        return np.ascontiguousarray(pixels, dtype=self.dtype)

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        described = {
            "layout": self.layout,
            "size": [self.height, self.width],
            "channels": self.channels,
            "resize": self.resize,
            "interpolation": self.interpolation,
            "scale": self.scale,
            "invert": self.invert,
            "polarity": self.polarity,
            "crop": self.crop,
            "flatten": self.flatten,
            "max_pixels": self.max_pixels,
            "jpeg_draft": self.jpeg_draft,
        }
        if self.resize == "pad":
            described["pad_value"] = (
                list(self.pad_value) if isinstance(self.pad_value, tuple) else self.pad_value
            )
        if self.crop != "none":
            described["crop_margin"] = self.crop_margin
            described["remove_frames"] = self.remove_frames
        if self.mean is not None:  # standard and torch: [0, 1] units, RGB
            described["mean"] = self.mean.tolist()
            described["std"] = self.std.tolist()
        if self.scale == "caffe":  # 0-255 units, BGR
            described["mean"] = CAFFE_MEAN_BGR.tolist()
            described["channel_order"] = "BGR"
        return described


def _geometry(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    """(height, width, channels) from the model input's shape."""
    if len(shape) == 2:  # (H, W): a grayscale model without a channel axis
        return shape[0], shape[1], 1
    if len(shape) == 3:
        height, width, channels = shape if layout == "channels_last" else (*shape[1:], shape[0])
        if channels in (1, 3):
            return height, width, channels
    raise BundleError(
        f"an image input needs shape (H, W, 1|3) for {layout} or (1|3, H, W) for channels_first "
        f"or (H, W), the model input is {shape}"
    )


def _orientation(image: Image.Image) -> int:
    """The EXIF Orientation tag, 1 (as stored) when absent or unreadable."""
    try:
        value = image.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:
        # A broken EXIF block should not cost the picture; viewers show it unrotated too.
        return 1
    return value if isinstance(value, int) else 1
