"""Written digits as image files: scikit-learn's handwritten scans and digits drawn from fonts.

Held out by source: the last block of scikit-learn's 1,797 scans (rows are stored grouped by
writer, so a contiguous block stands in for held-out writers; writer ids are not published) and
every face of the font families in ``HELD_OUT_FAMILIES``. Files look like what users send: tight
scans (dark on light, or light on dark as MNIST), and photos: a digit small and off-centre in a
large frame, in coloured ink on tinted noisy paper, unevenly lit, in perspective, blurred,
JPEG-compressed. The real-world held-out set has one such condition per image
(``TEST_CONDITIONS``). Scenes put other things on the page (``SCENE_CONDITIONS``: a small digit
on a busy page, a form box or cell, a circle, ruled paper, low light); their held-out images come
last in the plan from a stream of their own, so the images above are as they were, and training
gets scenes of the same kinds drawn with other templates (``BOX_TEMPLATES``, ``LETTER_FACES``).
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
    return _photograph(page, spec, rng)


def _photograph(page: np.ndarray, spec: dict, rng: np.random.Generator) -> tuple[bytes, str]:
    """An (H, W, 3) page in [0, 1] lit, noised, blurred and encoded as ``spec`` says."""
    height, width = page.shape[:2]
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
    condition: str  # "train", "train_" + a scene condition, or one of TEST_CONDITIONS or scenes
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
    training: list[tuple[int, tuple, str, str]] = []  # digit, glyph, source, name

    def add(split: str, digit: int, source: str, name: str, glyph: tuple, condition: str) -> None:
        plan.append(
            Picture(split, digit, source, name, glyph, condition, seed * 1_000_003 + len(plan))
        )

    for i, digit in enumerate(map(int, targets)):
        if i >= first_test:
            held_out.append((digit, ("sklearn", i), f"scan{i:04d}"))
        elif i % step == 0:
            training.append((digit, ("sklearn", i), "sklearn", f"scan{i:04d}"))
            for k in range(SKLEARN_AUGMENTS):
                split = "val" if rng.random() < VAL_FRACTION else "train"
                add(split, digit, "sklearn", f"scan{i:04d}_{k}", ("sklearn", i), "train")
    for f, (family, path) in enumerate(font_faces()):
        for digit in range(10):
            glyph = ("font", str(path), digit)
            if family in HELD_OUT_FAMILIES:
                held_out.append((digit, glyph, f"{path.stem}_{digit}"))
            elif f % step == 0:
                training.append((digit, glyph, f"font:{family}", f"{path.stem}_{digit}"))
                for k in range(FONT_AUGMENTS):
                    split = "val" if rng.random() < VAL_FRACTION else "train"
                    add(split, digit, f"font:{family}", f"{path.stem}_{digit}_{k}", glyph, "train")
    per_digit = max(1, round(TEST_PER_DIGIT * scale))

    def add_held_out(conditions: tuple[str, ...], stream: np.random.Generator) -> None:
        for condition in conditions:
            for digit in range(10):
                mine = [h for h in held_out if h[0] == digit]
                for j in stream.choice(len(mine), per_digit, replace=False):
                    _, glyph, name = mine[j]
                    add("test", digit, condition, f"{condition}_{name}_{j}", glyph, condition)

    add_held_out(TEST_CONDITIONS, rng)
    for split, count in NOISE_ONLY_IMAGES.items():
        for k in range(max(2, round(count * scale))):
            add(split, -1, "noise_only", f"blank_{k}", ("blank",), "train")
    # Scenes last, from their own stream: every image above stays as it was before they came.
    scene_rng = np.random.default_rng([seed, 1])
    add_held_out(SCENE_CONDITIONS, scene_rng)
    for n, (digit, glyph, source, name) in enumerate(training[::SCENE_TRAIN_EVERY]):
        split = "val" if scene_rng.random() < VAL_FRACTION else "train"
        kind = SCENE_KINDS_TRAIN[n % len(SCENE_KINDS_TRAIN)]
        add(split, digit, source, f"{name}_{kind}", glyph, f"train_{kind}")
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
    if picture.condition.startswith("train_"):  # a training scene
        return _scene(augment(ink, rng, 1.0), picture.condition[6:], rng, "train")
    if picture.condition in SCENE_CONDITIONS:
        return _scene(augment(ink, rng, 0.5), picture.condition, rng, "test")
    strength = 1.0 if picture.condition == "train" else 0.5
    return render_page(augment(ink, rng, strength), _page_spec(picture.condition, rng), rng)


@functools.cache
def _sklearn_images() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images


# Scenes: the digit among other things on the page. Held-out conditions (their own stream of
# seeds, after every other image of the plan, so the earlier images stay as they were) and a
# training augmentation of the same kinds drawn with other templates: other form layouts, other
# distractor lettering (OpenCV's Hershey faces, split between the two), other frames.
SCENE_CONDITIONS = ("busy_page", "boxed", "circled", "ruled_paper", "low_light")
SCENE_TRAIN_EVERY = 2  # one training scene per this many training glyph sources
SCENE_KINDS_TRAIN = ("busy_page", "boxed", "circled", "ruled_paper", "low_light")
BOX_TEMPLATES = {"test": ("box", "cells", "comb"), "train": ("box", "cells", "double")}
LETTER_FACES = {
    "test": ("script_simplex", "complex", "plain"),
    "train": ("simplex", "duplex", "triplex"),
}
LETTERS = "abcdefghijkmnprstuvwxyzACEFHKLMNPRTUVWXY"  # no letters that pass for digits


def _glyph_box(ink: np.ndarray) -> np.ndarray:
    """The ink map cropped to its ink."""
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.1), np.flatnonzero(ink.max(axis=0) > 0.1)
    if rows.size == 0:
        return ink
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _paste(canvas: np.ndarray, ink: np.ndarray, height: int, left: int, top: int) -> tuple:
    """The glyph scaled to ``height`` pixels at (left, top) of ``canvas``; returns its box."""
    glyph = _glyph_box(ink)
    scale = height / glyph.shape[0]
    w, h = max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale))
    big = np.asarray(Image.fromarray(glyph, mode="F").resize((w, h), Image.Resampling.BILINEAR))
    h, w = min(h, canvas.shape[0] - top), min(w, canvas.shape[1] - left)
    region = canvas[top : top + h, left : left + w]
    np.maximum(region, big[:h, :w], out=region)
    return left, top, left + w, top + h


def _hershey(name: str) -> int:
    import cv2

    return getattr(cv2, f"FONT_HERSHEY_{name.upper()}")


def _clutter(
    canvas: np.ndarray, avoid: tuple, unit: float, rng: np.random.Generator, split: str
) -> None:
    """Words, lines, shapes and ticks drawn on ``canvas`` around (never on) the ``avoid`` box."""
    import cv2

    height, width = canvas.shape
    pad = 0.5 * unit
    keep_out = (avoid[0] - pad, avoid[1] - pad, avoid[2] + pad, avoid[3] + pad)
    faces = LETTER_FACES[split]
    thick = max(1, round(unit * rng.uniform(0.05, 0.12)))  # the pen of the digit, or a finer one

    def clear(box: tuple) -> bool:
        return (box[2] < keep_out[0] or box[0] > keep_out[2] or box[3] < keep_out[1]
                or box[1] > keep_out[3]) and box[0] >= 0 and box[1] >= 0 and box[2] < width \
            and box[3] < height  # fmt: skip

    layer = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(4, 10))):  # words, smaller than the digit
        word = "".join(rng.choice(list(LETTERS), int(rng.integers(2, 7))))
        face = _hershey(faces[int(rng.integers(len(faces)))])
        size = rng.uniform(0.3, 0.6) * unit
        scale = size / cv2.getTextSize("x", face, 1.0, 1)[0][1] * 0.7
        (tw, th), _ = cv2.getTextSize(word, face, scale, thick)
        for _ in range(20):
            x, y = int(rng.integers(0, max(1, width - tw))), int(rng.integers(th, height))
            if clear((x, y - th - thick, x + tw, y + thick + th // 2)):
                cv2.putText(layer, word, (x, y), face, scale, 255, thick, cv2.LINE_AA)
                break
    for _ in range(int(rng.integers(1, 4))):  # long lines, roughly straight
        for _ in range(20):
            if rng.random() < 0.7:
                y = int(rng.integers(0, height))
                x0, x1 = sorted(rng.integers(0, width, 2))
                dy = int(rng.integers(-3, 4))
                box = (x0, min(y, y + dy) - thick, x1, max(y, y + dy) + thick)
                ends = ((int(x0), y), (int(x1), y + dy))
            else:
                x = int(rng.integers(0, width))
                y0, y1 = sorted(rng.integers(0, height, 2))
                box, ends = (x - thick, y0, x + thick, y1), ((x, int(y0)), (x, int(y1)))
            if box[2] - box[0] + box[3] - box[1] > 3 * unit and clear(box):
                cv2.line(layer, *ends, 255, thick, cv2.LINE_AA)
                break
    for _ in range(int(rng.integers(1, 4))):  # shapes: boxes, ellipses, arrows
        size = rng.uniform(1.0, 3.0) * unit
        for _ in range(20):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            box = (x, y, x + int(size * rng.uniform(0.6, 1.6)), y + int(size))
            if clear(box):
                kind = int(rng.integers(3))
                if kind == 0:
                    cv2.rectangle(layer, box[:2], box[2:], 255, thick, cv2.LINE_AA)
                elif kind == 1:
                    centre = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
                    axes = ((box[2] - box[0]) // 2, (box[3] - box[1]) // 2)
                    cv2.ellipse(layer, centre, axes, 0, 0, 360, 255, thick, cv2.LINE_AA)
                else:
                    cv2.arrowedLine(layer, box[:2], box[2:], 255, thick, cv2.LINE_AA, 0, 0.2)
                break
    for _ in range(int(rng.integers(2, 8))):  # ticks, dots, short scribbles
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        points = np.cumsum(rng.normal(0, 0.15 * unit, size=(int(rng.integers(2, 5)), 2)), axis=0)
        points = (points + [x, y]).astype(np.int32)
        box = (*points.min(axis=0), *points.max(axis=0))
        if clear(box):
            cv2.polylines(layer, [points], False, 255, thick, cv2.LINE_AA)
    np.maximum(canvas, layer.astype(np.float32) / 255, out=canvas)


def _frame_around(
    canvas: np.ndarray, box: tuple, unit: float, rng: np.random.Generator, kind: str
) -> None:
    """A form box, a row of cells, a comb, a double box, or a hand-drawn circle around ``box``."""
    import cv2

    height, width = canvas.shape
    layer = np.zeros((height, width), np.uint8)
    thick = max(1, round(unit * rng.uniform(0.02, 0.08)))
    margin = rng.uniform(0.08, 0.35) * unit
    x0, y0 = round(box[0] - margin), round(box[1] - margin)
    x1, y1 = round(box[2] + margin), round(box[3] + margin)
    if kind in ("box", "double"):
        cv2.rectangle(layer, (x0, y0), (x1, y1), 255, thick, cv2.LINE_AA)
        if kind == "double":
            gap = thick + max(2, round(0.05 * unit))
            cv2.rectangle(layer, (x0 - gap, y0 - gap), (x1 + gap, y1 + gap), 255, thick,
                          cv2.LINE_AA)  # fmt: skip
    elif kind in ("cells", "comb"):
        cell = x1 - x0
        first = x0 - cell * int(rng.integers(0, 4))
        count = int(rng.integers(3, 7))
        right = first + cell * count
        if kind == "cells":
            cv2.rectangle(layer, (first, y0), (right, y1), 255, thick, cv2.LINE_AA)
            ticks = (y0, y1)
        else:  # a bottom line with short ticks between the letters
            cv2.line(layer, (first, y1), (right, y1), 255, thick, cv2.LINE_AA)
            ticks = (round(y1 - 0.35 * (y1 - y0)), y1)
        for k in range(count + 1):
            x = first + k * cell
            cv2.line(layer, (x, ticks[0]), (x, ticks[1]), 255, thick, cv2.LINE_AA)
    else:  # circled: a wobbly ellipse drawn in one stroke, its ends overlapping or apart
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        axes = np.array([(box[2] - box[0]) / 2, (box[3] - box[1]) / 2]) + margin
        axes = np.maximum(axes, 0.45 * unit)
        start = rng.uniform(0, 2 * np.pi)
        turn = np.linspace(start, start + 2 * np.pi * rng.uniform(0.9, 1.1), 90)
        wobble = 1 + np.cumsum(rng.normal(0, 0.01, turn.size))
        points = centre + np.stack([np.cos(turn), np.sin(turn)], axis=1) * axes * wobble[:, None]
        cv2.polylines(layer, [points.round().astype(np.int32)], False, 255, thick, cv2.LINE_AA)
    np.maximum(canvas, layer.astype(np.float32) / 255, out=canvas)


def _ruled(canvas: np.ndarray, box: tuple, unit: float, rng: np.random.Generator) -> None:
    """Ruled paper: horizontal lines the digit's height apart or closer, maybe a margin line."""
    import cv2

    height, width = canvas.shape
    layer = np.zeros((height, width), np.uint8)
    spacing = rng.uniform(0.45, 0.9) * unit
    thick = max(1, round(unit * rng.uniform(0.015, 0.05)))
    tilt = rng.uniform(-0.01, 0.01) * width
    y = box[3] - spacing * rng.uniform(-0.05, 0.15)  # the digit sits on (or near) a line
    y -= spacing * int(y // spacing)
    while y < height:
        cv2.line(layer, (0, round(y)), (width, round(y + tilt)), 255, thick, cv2.LINE_AA)
        y += spacing
    if rng.random() < 0.5:
        x = round(rng.uniform(0.05, 0.2) * width)
        if x < box[0] - 0.2 * unit:
            cv2.line(layer, (x, 0), (x, height), 255, thick, cv2.LINE_AA)
    np.maximum(canvas, layer.astype(np.float32) / 255, out=canvas)


def _scene(
    ink: np.ndarray, condition: str, rng: np.random.Generator, split: str
) -> tuple[bytes, str]:
    """One scene condition drawn around the digit's ink map: (file bytes, extension)."""
    frames = TEST_FRAMES if split == "test" else ((640, 480), (640, 360), (480, 640))
    if condition == "low_light":
        spec = _photo(rng, frames, inverted=False, small=False, mild=True)
        dim = rng.uniform(0.1, 0.3)
        return render_page(ink, {**spec, "paper": tuple(np.array(spec["paper"]) * dim),
                                 "ink": tuple(np.array(spec["ink"]) * dim),
                                 "noise": rng.uniform(0.015, 0.04),
                                 "light": rng.uniform(0.2, 0.5),
                                 "jpeg": int(rng.integers(30, 80))}, rng)  # fmt: skip
    spec = _photo(rng, frames, inverted=False, small=False, mild=True)
    spec = {**spec, "perspective": 0.0}  # the page stays square: the frames are straight
    if condition == "busy_page":
        if split == "test":
            spec["frame"] = (1280, 720)
        width, height = spec["frame"]
        unit = (
            rng.uniform(0.05, 0.08) * height if split == "test" else rng.uniform(0.06, 0.2) * height
        )
    else:
        width, height = spec["frame"]
        unit = rng.uniform(0.15, 0.4) * min(width, height)
    unit = max(float(MIN_DIGIT_PX), unit)
    canvas = np.zeros((height, width), dtype=np.float32)
    glyph = _glyph_box(ink)
    glyph_w = unit * glyph.shape[1] / glyph.shape[0]
    border = 0.6 * unit
    left = int(rng.uniform(border, max(border + 1, width - glyph_w - border)))
    top = int(rng.uniform(border, max(border + 1, height - unit - border)))
    box = _paste(canvas, ink, round(unit), left, top)
    templates = BOX_TEMPLATES[split]
    lines = np.zeros_like(canvas)
    if condition == "busy_page":
        _clutter(canvas, box, unit, rng, split)
    elif condition == "boxed":
        _frame_around(lines, box, unit, rng, templates[int(rng.integers(len(templates)))])
    elif condition == "circled":
        _frame_around(canvas, box, unit, rng, "circle")
    elif condition == "ruled_paper":
        _ruled(lines, box, unit, rng)
    else:
        raise ValueError(condition)
    paper, colour = np.array(spec["paper"]), np.array(spec["ink"])
    # Printed lines and boxes: grey, blue or the ink's own colour, at most as dark as the ink.
    line_colour = (colour, np.array([0.35, 0.55, 0.8]) * paper, np.array([0.5, 0.5, 0.5]))[
        int(rng.integers(3))
    ]
    page = paper * (1 - lines[..., None]) + line_colour * lines[..., None]
    page = page * (1 - canvas[..., None]) + colour * canvas[..., None]
    return _photograph(page.astype(np.float32), spec, rng)
