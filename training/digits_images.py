"""Written digits as image files: scikit-learn's handwritten scans and digits drawn from fonts.

Held out by source: the last block of scikit-learn's 1,797 scans (rows are stored grouped by
writer, so a contiguous block stands in for held-out writers; writer ids are not published) and
every face of the font families in ``HELD_OUT_FAMILIES``. Files look like what users send: tight
scans (dark on light, or light on dark as MNIST), and photos: a digit small and off-centre in a
large frame, in coloured ink on tinted noisy paper, unevenly lit, in perspective, blurred,
JPEG-compressed. The real-world held-out set has one such condition per image
(``TEST_CONDITIONS``).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
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
SKLEARN_AUGMENTS = 4  # augmented copies of each training scan
FONT_AUGMENTS = 4  # per training face and digit
VAL_FRACTION = 0.08  # of the training sources' images, kept for temperature scaling
TEST_CONDITIONS = (
    "clean", "small_offcentre_photo", "inverted", "perspective", "uneven_light",
    "colour_ink_tinted_paper", "blur_jpeg",
)  # fmt: skip
TEST_PER_DIGIT = 15  # held-out images per digit and condition
NOISE_ONLY_IMAGES = {"train": 300, "test": 100}  # blank or scribbled paper: the corruption
# Training photos are smaller (cheaper to make): the content crop makes the frame size moot.
TRAIN_FRAMES = ((160, 120), (320, 240), (240, 320), (480, 360))
TEST_FRAMES = ((640, 480), (800, 600), (1280, 720), (720, 1280))
MIN_DIGIT_PX = 24
INKS = ((0.05, 0.05, 0.08), (0.1, 0.15, 0.55), (0.6, 0.08, 0.08), (0.05, 0.35, 0.12),
        (0.3, 0.3, 0.3))  # black, blue, red, green, pencil grey  # fmt: skip


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


def _page_spec(condition: str, rng: np.random.Generator) -> dict:
    """How an image is photographed or scanned: random for training, fixed by a test condition."""
    tight = {"frame": None, "size": int(rng.choice((28, 32, 48, 64))), "fill": 1.0,
             "paper": (1.0,) * 3, "ink": (0.0,) * 3, "grey": True, "light": 0.0, "noise": 0.0,
             "perspective": 0.0, "blur": 0.0, "jpeg": None, "inverted": False}  # fmt: skip
    if condition == "clean":
        return tight
    if condition == "train":
        kind = rng.choice(("tight", "inverted", "photo"), p=(0.3, 0.15, 0.55))
        if kind != "photo":
            paper = rng.uniform(0.75, 1.0)
            ink = rng.uniform(0.0, 0.35)
            return {**tight, "paper": (paper,) * 3, "ink": (ink,) * 3,
                    "noise": rng.uniform(0, 0.06), "blur": rng.uniform(0, 0.6),
                    "inverted": kind == "inverted"}  # fmt: skip
        return _photo(rng, TRAIN_FRAMES, inverted=rng.random() < 0.2, small=rng.random() < 0.6)
    spec = _photo(rng, TEST_FRAMES, inverted=False, small=False, mild=True)
    if condition == "small_offcentre_photo":
        return _photo(rng, TEST_FRAMES, inverted=False, small=True, mild=True)
    if condition == "inverted":
        return {**tight, "inverted": True, "noise": rng.uniform(0, 0.04)}
    if condition == "perspective":
        return {**spec, "perspective": rng.uniform(0.15, 0.3)}
    if condition == "uneven_light":
        return {**spec, "light": rng.uniform(0.35, 0.6)}
    if condition == "colour_ink_tinted_paper":
        paper = tuple(rng.uniform(0.7, 1.0, size=3))
        return {**spec, "grey": False, "paper": paper, "ink": INKS[int(rng.integers(1, 4))],
                "noise": rng.uniform(0.03, 0.08)}  # fmt: skip
    if condition == "blur_jpeg":
        return {**spec, "blur": rng.uniform(1.0, 2.0), "jpeg": int(rng.integers(15, 40))}
    raise ValueError(condition)


def _photo(
    rng: np.random.Generator, frames: tuple, *, inverted: bool, small: bool, mild: bool = False
) -> dict:
    """A phone photo of paper (or a board, when ``inverted``) with one digit on it."""
    frame = frames[int(rng.integers(len(frames)))]
    short = min(frame)
    # The digit's box as a fraction of the frame's short side; a small one is 24 px or more.
    fill = (
        rng.uniform(MIN_DIGIT_PX / short, max(0.2, 1.5 * MIN_DIGIT_PX / short))
        if small
        else rng.uniform(0.35, 0.8)
    )
    if inverted:
        paper = tuple(rng.uniform(0.05, 0.3) * np.array([0.8, 1.0, 0.85]))  # dark board
        ink = tuple(np.full(3, rng.uniform(0.75, 1.0)))
    else:
        paper = tuple(rng.uniform(0.65, 1.0) * rng.uniform(0.85, 1.0, size=3))
        ink = INKS[int(rng.integers(len(INKS)))]
    strength = 0.5 if mild else 1.0
    return {
        "frame": frame, "size": None, "fill": fill, "paper": paper, "ink": ink,
        "grey": rng.random() < 0.2, "light": rng.uniform(0, 0.5) * strength,
        "noise": rng.uniform(0, 0.08) * strength, "perspective": rng.uniform(0, 0.25) * strength,
        "blur": rng.uniform(0, 1.5) * strength, "jpeg": int(rng.integers(30, 95)),
        "inverted": False,
    }  # fmt: skip


def _perspective(ink: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """The ink map seen at an angle: its corners moved inwards by up to ``strength``."""
    n = ink.shape[0]
    pad = n // 2
    big = np.pad(ink, pad)
    size = big.shape[0]
    corners = np.array([[pad, pad], [pad + n, pad], [pad + n, pad + n], [pad, pad + n]], float)
    moved = corners + rng.uniform(-strength, strength, size=(4, 2)) * n
    # Coefficients of the projective map from output pixels to input pixels (PIL's convention).
    rows, rhs = [], []
    for (x, y), (u, v) in zip(moved, corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    coeffs = np.linalg.solve(np.array(rows), np.array(rhs))
    image = Image.fromarray((big * 255).astype(np.uint8), mode="L")
    out = image.transform((size, size), Image.Transform.PERSPECTIVE, tuple(coeffs),
                          Image.Resampling.BILINEAR)  # fmt: skip
    out = np.asarray(out, dtype=np.float32) / 255.0
    box = Image.fromarray(out).getbbox() if out.any() else None
    return out[box[1] : box[3], box[0] : box[2]] if box else ink


def render_page(ink: np.ndarray, spec: dict, rng: np.random.Generator) -> tuple[bytes, str]:
    """An ink map drawn as the file ``spec`` describes; returns (bytes, file extension)."""
    if spec["perspective"]:
        ink = _perspective(ink, spec["perspective"], rng)
    if spec["frame"] is None:
        width = height = spec["size"] * 4  # drawn at 4x, then box-filtered down like a scanner
        canvas = np.asarray(Image.fromarray(ink, mode="F").resize((width, height)))
    else:
        width, height = spec["frame"]
        side = max(8, round(spec["fill"] * min(width, height)))
        scale = side / max(ink.shape)
        h, w = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
        glyph = np.asarray(Image.fromarray(ink, mode="F").resize((w, h), Image.Resampling.BILINEAR))
        canvas = np.zeros((height, width), dtype=np.float32)
        top = int(rng.integers(0, max(1, height - h)))
        left = int(rng.integers(0, max(1, width - w)))
        canvas[top : top + h, left : left + w] = glyph[: height - top, : width - left]
    canvas = canvas.clip(0, 1)[..., None]
    paper, colour = np.array(spec["paper"]), np.array(spec["ink"])
    if spec["inverted"]:
        paper, colour = 1 - paper, 1 - colour
    page = paper * (1 - canvas) + colour * canvas
    if spec["light"]:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        page = page * (1 - spec["light"] * ramp)[..., None]
    if spec["noise"]:
        page = page + rng.normal(0, spec["noise"], size=(height, width, 1)).astype(np.float32)
    image = Image.fromarray((page.clip(0, 1) * 255).round().astype(np.uint8), mode="RGB")
    if spec["grey"]:
        image = image.convert("L")
    if spec["blur"]:
        from PIL import ImageFilter

        image = image.filter(ImageFilter.GaussianBlur(spec["blur"] * (1 if spec["frame"] else 4)))
    if spec["frame"] is None:
        image = image.resize((spec["size"], spec["size"]), Image.Resampling.BOX)
    buffer = io.BytesIO()
    if spec["jpeg"]:
        image.save(buffer, format="JPEG", quality=spec["jpeg"])
        return buffer.getvalue(), "jpg"
    image.save(buffer, format="PNG", optimize=spec["frame"] is None)
    return buffer.getvalue(), "png"


def _blank(rng: np.random.Generator) -> np.ndarray:
    """No digit: empty paper, or a few random scribbled strokes."""
    ink = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    if rng.random() < 0.5:
        page = Image.fromarray(ink, mode="F")
        draw = ImageDraw.Draw(page)
        for _ in range(int(rng.integers(1, 4))):
            draw.line([tuple(rng.uniform(0, CANVAS, 2)) for _ in range(3)], fill=1.0, width=3)
        ink = np.asarray(page, dtype=np.float32)
    return ink


@dataclass(frozen=True)
class Picture:
    """One image to draw: which glyph (a scan row, a font face's digit, or none), how, its seed."""

    split: str
    digit: int  # -1: no digit (blank or scribbled paper)
    source: str  # "sklearn", "font:FAMILY", a test condition, or "noise_only"
    name: str
    glyph: tuple  # ("sklearn", row) | ("font", path, digit) | ("blank",)
    condition: str  # "train" or one of TEST_CONDITIONS
    seed: int


def plan_images(seed: int, scale: float = 1.0) -> list[Picture]:
    """Every image of the data set (train, val, test, noise-only), reproducibly from ``seed``.

    Training and validation images get random augmentations; test images come from held-out
    writers and fonts, one condition each. ``scale`` shrinks every count, for quick runs.
    """
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    targets = load_digits().target
    first_test = round(len(targets) * (1 - SKLEARN_TEST_FRACTION))
    step = max(1, round(1 / scale))
    plan: list[Picture] = []
    held_out: list[tuple[int, tuple, str]] = []

    def add(split: str, digit: int, source: str, name: str, glyph: tuple, condition: str) -> None:
        plan.append(
            Picture(split, digit, source, name, glyph, condition, seed * 1_000_003 + len(plan))
        )

    for i, digit in enumerate(map(int, targets)):
        if i >= first_test:
            held_out.append((digit, ("sklearn", i), f"scan{i:04d}"))
        elif i % step == 0:
            for k in range(SKLEARN_AUGMENTS):
                split = "val" if rng.random() < VAL_FRACTION else "train"
                add(split, digit, "sklearn", f"scan{i:04d}_{k}", ("sklearn", i), "train")
    for f, (family, path) in enumerate(font_faces()):
        for digit in range(10):
            glyph = ("font", str(path), digit)
            if family in HELD_OUT_FAMILIES:
                held_out.append((digit, glyph, f"{path.stem}_{digit}"))
            elif f % step == 0:
                for k in range(FONT_AUGMENTS):
                    split = "val" if rng.random() < VAL_FRACTION else "train"
                    add(split, digit, f"font:{family}", f"{path.stem}_{digit}_{k}", glyph, "train")
    per_digit = max(1, round(TEST_PER_DIGIT * scale))
    for condition in TEST_CONDITIONS:
        for digit in range(10):
            mine = [h for h in held_out if h[0] == digit]
            for j in rng.choice(len(mine), per_digit, replace=False):
                _, glyph, name = mine[j]
                add("test", digit, condition, f"{condition}_{name}_{j}", glyph, condition)
    for split, count in NOISE_ONLY_IMAGES.items():
        for k in range(max(2, round(count * scale))):
            add(split, -1, "noise_only", f"blank_{k}", ("blank",), "train")
    return plan


def draw(picture: Picture) -> tuple[bytes, str]:
    """Draw one planned image; returns (file bytes, extension)."""
    rng = np.random.default_rng(picture.seed)
    kind = picture.glyph[0]
    if kind == "sklearn":
        ink = _ink_from_sklearn(_sklearn_images()[picture.glyph[1]])
    elif kind == "font":
        ink = _ink_from_font(Path(picture.glyph[1]), picture.glyph[2])
        if picture.condition == "train" and rng.random() < 0.3:
            ink = _as_scan(ink)
    else:
        ink = _blank(rng)
    strength = 1.0 if picture.condition == "train" else 0.5
    return render_page(augment(ink, rng, strength), _page_spec(picture.condition, rng), rng)


@functools.cache
def _sklearn_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images
