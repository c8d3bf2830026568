"""Written digits as PNG files: scikit-learn's handwritten scans and digits drawn from fonts.

Held out by source: the last block of scikit-learn's 1,797 scans (rows are stored grouped by
writer, so a contiguous block stands in for held-out writers; writer ids are not published) and
every face of the font families in ``HELD_OUT_FAMILIES``. Files are dark ink on a light page, as a
photo or scan would be; the bundle inverts them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

FONT_DIRS = (Path("/usr/share/fonts"),)
# Families that draw symbols, not digits, or draw digits hollow.
SKIP_FAMILIES = ("Standard Symbols PS", "D050000L", "DejaVu Math TeX Gyre", "femkeklaver")
HELD_OUT_FAMILIES = (
    "Humor Sans", "Because We Learn", "Liberation Serif", "Comic Neue", "URW Gothic",
    "Inconsolata", "Caladea", "Kristi",
)  # fmt: skip
SKLEARN_TEST_FRACTION = 0.2
CANVAS = 64  # working resolution for augmentation
SCAN_FILL = 0.85  # the 8x8 scan box fills this much of the canvas, like the fonts' 0.8
SKLEARN_AUGMENTS = 6  # augmented copies of each training scan
FONT_AUGMENTS = 6  # per training face and digit
TEST_FONT_AUGMENTS = 2


def _ink_from_sklearn(pixels: np.ndarray) -> np.ndarray:
    """An 8x8 scan (0-16 ink) upscaled to a CANVAS-sized ink map in [0, 1]."""
    image = Image.fromarray((pixels / 16.0).astype(np.float32), mode="F")
    inner = round(SCAN_FILL * CANVAS)
    ink = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    at = (CANVAS - inner) // 2
    ink[at : at + inner, at : at + inner] = image.resize((inner, inner), Image.Resampling.BICUBIC)
    return ink.clip(0, 1)


def font_faces() -> list[tuple[str, Path]]:
    """(family, path) of every installed TrueType/OpenType face that draws ten distinct digits."""
    faces = []
    files = sorted(p for d in FONT_DIRS for p in d.rglob("*") if p.suffix in (".ttf", ".otf"))
    for path in files:
        try:
            font = ImageFont.truetype(str(path), 48)
        except OSError:
            continue
        family = font.getname()[0] or path.stem
        if family in SKIP_FAMILIES:
            continue
        masks = {bytes(font.getmask(str(d))) for d in range(10)}
        if len(masks) == 10 and all(font.getbbox(str(d))[2] > 0 for d in range(10)):
            faces.append((family, path))
    return faces


def _ink_from_font(path: Path, digit: int) -> np.ndarray:
    """The glyph of ``digit`` cropped to its ink and centred on a square CANVAS ink map."""
    font = ImageFont.truetype(str(path), 160)
    page = Image.new("L", (320, 320), 0)
    ImageDraw.Draw(page).text((80, 40), str(digit), font=font, fill=255)
    glyph = page.crop(page.getbbox())
    scale = 0.8 * CANVAS / max(glyph.size)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    square = Image.new("L", (CANVAS, CANVAS), 0)
    square.paste(
        glyph.resize(size, Image.Resampling.LANCZOS),
        ((CANVAS - size[0]) // 2, (CANVAS - size[1]) // 2),
    )
    return np.asarray(square, dtype=np.float32) / 255.0


def _as_scan(ink: np.ndarray) -> np.ndarray:
    """Degrade a crisp ink map the way scikit-learn's scans were made: 4x4 block counts at 8x8."""
    small = np.asarray(Image.fromarray(ink, mode="F").resize((32, 32), Image.Resampling.BOX)) > 0.5
    counts = small.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32)
    return _ink_from_sklearn(counts)


def augment(ink: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Shift, rotate, shear, rescale, thicken or thin, and blur an ink map."""
    angle = np.deg2rad(rng.uniform(-12, 12) * strength)
    shear = rng.uniform(-0.2, 0.2) * strength
    zoom = rng.uniform(0.85, 1.15) ** strength
    matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = matrix @ np.array([[1.0, shear], [0.0, 1.0]]) / zoom
    centre = np.array([CANVAS / 2, CANVAS / 2])
    shift = rng.uniform(-0.08, 0.08, size=2) * CANVAS * strength
    offset = centre - matrix @ (centre + shift)
    out = ndimage.affine_transform(ink, matrix, offset=offset, order=1, mode="constant")
    stroke = rng.choice((-1, 0, 0, 1, 2)) if strength > 0 else 0
    if stroke > 0:
        out = ndimage.grey_dilation(out, size=(2 * stroke + 1,) * 2)
    elif stroke < 0:
        out = ndimage.grey_erosion(out, size=(3, 3))
    return ndimage.gaussian_filter(out, rng.uniform(0, 1.2) * strength).clip(0, 1)


def to_png(ink: np.ndarray, rng: np.random.Generator, size: int, noise: float = 1.0) -> bytes:
    """Ink map to a grayscale PNG: dark ink on a light page, with contrast and sensor noise."""
    paper = rng.uniform(0.75, 1.0) if noise else 1.0
    ink_level = rng.uniform(0.0, 0.35) if noise else 0.0
    page = paper - (paper - ink_level) * ink
    page = page + rng.normal(0, rng.uniform(0, 0.06) * noise, size=page.shape)
    image = Image.fromarray((page.clip(0, 1) * 255).round().astype(np.uint8), mode="L")
    buffer = io.BytesIO()
    image.resize((size, size), Image.Resampling.BOX).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def make_images(seed: int) -> Iterator[tuple[str, int, str, str, bytes]]:
    """Yield (split, digit, source, name, png) for every image of the data set."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    scans = load_digits()
    first_test = round(len(scans.target) * (1 - SKLEARN_TEST_FRACTION))
    for i, (pixels, digit) in enumerate(zip(scans.images, scans.target, strict=True)):
        ink = _ink_from_sklearn(pixels)
        if i >= first_test:
            # Held-out scans are only upscaled: they are the real test of handwriting.
            yield "test", int(digit), "sklearn", f"scan{i:04d}", to_png(ink, rng, 32, noise=0)
            continue
        for k in range(SKLEARN_AUGMENTS):
            size = int(rng.choice((28, 32, 48, 64)))
            png = to_png(augment(ink, rng), rng, size)
            yield "train", int(digit), "sklearn", f"scan{i:04d}_{k}", png
    for family, path in font_faces():
        held_out = family in HELD_OUT_FAMILIES
        for digit in range(10):
            crisp = _ink_from_font(path, digit)
            for k in range(TEST_FONT_AUGMENTS if held_out else FONT_AUGMENTS):
                ink = _as_scan(crisp) if rng.random() < 0.3 else crisp
                strength = 0.5 if held_out else 1.0
                png = to_png(augment(ink, rng, strength), rng, int(rng.choice((32, 64))))
                split = "test" if held_out else "train"
                yield split, digit, f"font:{family}", f"{path.stem}_{digit}_{k}", png
