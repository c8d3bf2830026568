"""The one glyph on a page rather than all its ink, and the frames and ruled lines around it.

``find_glyph`` works on the ink mask of ``ink.ink_mask`` (after polarity and flatten):

* ``remove_frames``: straight runs much longer than they are thick (ruled lines, form boxes
  and cells; a morphological opening with horizontal and vertical kernels; each line is taken
  along its own path and only where the ink is as thin as the line, so a digit joined to two
  lines keeps its body), frames (a component whose box holds another sizeable component and
  whose convex hull is mostly hole: a drawn box or circle, closed or not) and rings (a circle
  drawn around a digit and touching it: a thin elliptical band with a glyph inside) are taken
  out of the mask and painted over with the paper.
* ``pick`` (``crop: object``): the connected components of the mask are scored as glyphs by size,
  ink, stroke width, aspect, hollowness, slant (a straight leaning stroke is an arrow or a slash),
  likeness to other candidates (the teeth of a form's comb repeat; a digit is one of a kind)
  and nearness to the centre; the best one is the seed, and
  components close to it that keep the union glyph-shaped join it (a 4 or 5 drawn in two
  strokes, a stroke cut by a removed line). The square is centred on that glyph's ink alone, and
  any other ink inside the square is painted over with the paper.

Photos (300 pixels or more on the shorter side) are median-filtered for the mask only, so sensor
noise does not become ink. Nothing found (a blank page): the caller keeps the whole frame, as
``crop: content`` does; nothing glyph-shaped: all the ink, as ``crop: content``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from app.preprocessing.ink import Page, ink_mask, mask_square

# A straight horizontal or vertical run (an opening with a LINE_MIN_PX kernel) this many times
# longer than it is thick is a line, not a stroke: a digit's bar is 3-12 times longer than thick.
LINE_STROKES = 20
LINE_MIN_PX = 15
LINE_MIN_THICKNESS = 2.5  # pixels: so a line is at least 50 pixels long (a small scan has none)
LINE_PIECE = 10  # a line cut by strokes: its pieces this many times longer than thick
PATH_SMOOTH = 31  # columns: a line's path is the running median of its middles over this many
# A component is a frame when its box holds another component at least this share of its height
# and its hole (the inside of its convex hull not inked) is at least this share of its box.
FRAME_INNER_HEIGHT = 0.25
FRAME_HOLE = 0.5
# Glyph scoring: plausible digits are this tall at least (pixels), this wide per height, this
# many stroke widths tall, this hollow at most; candidates smaller than MIN_AREA_SHARE of the
# largest are noise.
MIN_GLYPH_PX = 8
ASPECT = (0.05, 1.6)
HEIGHT_STROKES = (2.0, 45.0)
MAX_HOLE = 0.6
# A component at least LINE_MIN_LENGTH stroke widths long with LINE_SHARE of its ink within
# LINE_BAND stroke widths of its main axis is a straight stroke (an arrow's head is the rest);
# one leaning further than MAX_LEAN degrees from vertical is no digit. At 35, arrows' shafts (33
# degrees) won over small digits on held-out busy pages (seed 0: 88.7% right; 90.7% at 30, and
# one more uneven-light photo; seed 1: 88.0 -> 88.7%; nothing lost on either; 28 and 25 lose).
LINE_MIN_LENGTH = 4.0
LINE_BAND = 2.0
LINE_SHARE = 0.7
MAX_LEAN = 30.0
# Candidates alike in size, stroke and ink (the teeth of a comb, cell walls) score this share:
# at 0.2 a comb's ticks beat a digit tall for its pen (held-out boxed, seed 0: 96.7% right;
# 98.0% at 0.05 and at 0; no other held-out photo of seeds 0 and 1 changed).
REPEAT_TOLERANCE = 0.25
REPEATED_WEIGHT = 0.05
CANDIDATES = 8  # the best this many by size are weighed by their holes too
MIN_AREA_SHARE = 0.02
CENTRE_WEIGHT = 0.35  # a candidate in a corner scores this share less than one at the centre
# Digits are 3-8 stroke widths tall (a marker's bold digit 3-4, a pen's 7, as MNIST's): a
# candidate scores less the further its height in stroke widths is outside that (a log-normal
# weight), so an arrow or a shape drawn with a fine pen, or a blot, loses to the digit. Within it
# the score is sqrt(height) * ink**0.25: a tick or a letter drawn with the digit's pen is as
# digit-shaped as the digit but carries less ink (busy pages of the held-out set's seed 1: 86.0%
# right, against 75.3% scored by height around 7 stroke widths).
DIGIT_STROKES = (3.0, 8.0)
DIGIT_STROKES_SPREAD = 0.35
# A ring: a component whose outer edge is an ellipse (median distance from the fitted one at most
# RING_FIT of its radius), inked in RING_COVER of its directions with a line at most RING_THIN of
# its minor axis thick, and with ink inside the band (RING_INNER of the band's) at least 0.3 of the
# minor axis tall: a circle drawn around a digit and touching it. The band is taken out.
# A hand-drawn circle wanders from the fitted ellipse: its held-out ones by 6-12% of the radius
# (0.05 kept 6 of 150 circled digits of seed 1 and 1 of seed 0 in their rings; 0.13-0.2 alike).
RING_FIT = 0.15
RING_COVER = 0.8
RING_THIN = 0.1
RING_INNER = 0.25
RING_SECTORS = 36
# Degrees from vertical: a zero's bar leans further than a circled 1 (20 and 25 lost a circled
# digit on both held-out seeds).
SLASH_LEAN = 30.0
# Components within this share of the seed's height join it, while the union stays at most
# this many times the seed's height and width.
JOIN_GAP = 0.3
JOIN_GROWTH = 1.7
JOIN_STROKE = 0.5  # and whose strokes are at least half and at most twice as wide as its own
# Painted-over ink is widened by this many pixels (per 500 of the shorter side, at least 1) to
# take its anti-aliased fringe too.
ERASE_FRINGE = 2
SMOOTH_FROM = 300  # pixels on the shorter side: a 3x3 median under the mask, 5x5 from twice that


@dataclass(frozen=True)
class Found:
    """Where to crop, and which pixels to paint with the paper first (None: none)."""

    square: tuple[int, int, int] | None  # (left, top, side); None: keep the whole frame
    erase: np.ndarray | None  # boolean, the image's shape


def find_glyph(
    grey: np.ndarray, page: Page, margin: float, *, pick: bool, remove_frames: bool
) -> Found:
    """The crop square (and the pixels to paint over) for ``crop: object`` and/or frames."""
    # Sensor noise (amplified by flatten in a dark photo) would be ink specks joining into runs;
    # the mask is taken from a median-filtered copy of a photo (edges stay where they are).
    side = min(grey.shape)
    smooth = (
        grey if side < SMOOTH_FROM else cv2.medianBlur(grey, 3 if side < 2 * SMOOTH_FROM else 5)
    )
    mask = ink_mask(smooth, page).astype(np.uint8)
    if not mask.any():
        return Found(None, None)
    fringe = max(1, round(ERASE_FRINGE * min(grey.shape) / 500))
    removed = np.zeros_like(mask)
    # The components of ``mask`` as it stands and their scores, once found: one pass serves
    # frame removal's question (is a glyph left?) and the pick's (which one?).
    components, scored = None, None
    if remove_frames:
        components = _components(mask)
        removed = _frames_and_lines(mask, components)
        if removed.any():
            kept = mask & (1 - removed)
            count, labels, stats = _components(kept)
            kept_scored = _scored(labels, stats, kept) if count > 1 else None
            if kept_scored is not None and kept_scored[1]:
                mask, components, scored = kept, (count, labels, stats), kept_scored
            else:  # nothing glyph-shaped is left: a lone 1 is a straight run too, keep it
                removed = np.zeros_like(mask)
    erase = _widen(removed, fringe).astype(bool) if removed.any() else None
    if not pick:
        return Found(mask_square(mask.astype(bool), margin), erase)
    count, labels, stats = components or _components(mask)
    if count <= 1:
        return Found(None, erase)
    chosen = _choose(labels, stats, scored or _scored(labels, stats, mask))
    if chosen is None:  # nothing glyph-shaped: all the (remaining) ink, as crop: content
        return Found(mask_square(mask.astype(bool), margin), erase)
    glyph = np.isin(labels, chosen)
    square = mask_square(glyph, margin)
    others = (mask.astype(bool) & ~glyph).astype(np.uint8)
    if square is not None and others.any():
        left, top, side = square
        window = np.zeros_like(others)
        y0, x0 = max(0, top), max(0, left)
        window[y0 : max(0, top + side), x0 : max(0, left + side)] = 1
        stray = _widen(others & window, fringe).astype(bool) & ~glyph
        erase = stray if erase is None else erase | stray
    return Found(square, erase)


def _widen(mask: np.ndarray, by: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * by + 1, 2 * by + 1))
    return cv2.dilate(mask, kernel)


def _stroke_widths(labels: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """Per component, its stroke width from the mean distance to the paper (a w-wide stroke has
    a mean distance of about w/4 + 1/2)."""
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ink = np.flatnonzero(mask)  # the sums over the ink alone: a few percent of a photo
    owners = labels.ravel()[ink]
    sums = np.bincount(owners, weights=distance.ravel()[ink], minlength=count)
    areas = np.bincount(owners, minlength=count)
    return np.maximum(1.0, 4 * (sums / np.maximum(areas, 1) - 0.5))


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, labels, stats) of the 8-connected components of ``mask``."""
    # Block-based labelling: the same labels and stats as OpenCV's default (checked on 258
    # held-out photos), about 3 times faster on a sparse 1280x720 page (1.4 against 3.9 ms).
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    return count, labels, stats


def _frames_and_lines(mask: np.ndarray, components: tuple) -> np.ndarray:
    """Mask of the long straight lines, frames and rings in ``mask`` (``components`` its)."""
    frames = _frames(mask, components) | _rings(mask, components)
    rest = mask & (1 - frames)
    return frames | _straight_lines(rest) | _straight_lines(np.ascontiguousarray(rest.T)).T


def _straight_lines(mask: np.ndarray) -> np.ndarray:
    """Horizontal lines: runs at least LINE_MIN_PX long (an opening) that are LINE_STROKES times
    longer than thick. Only a band of the line's own thickness along its path is taken, and in it
    only pixels whose vertical run in the whole mask is no thicker than the line: a stroke that
    crosses or touches the line keeps all of itself, and a digit's bar, a few stroke widths long,
    is no line."""
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, LINE_MIN_PX), np.uint8))
    out = np.zeros_like(mask)
    if not opened.any():  # no run that long: most photos of a lone digit
        return out
    count, labels, stats = _components(opened)
    if count <= 1:
        return out
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if w < LINE_STROKES * max(LINE_MIN_THICKNESS, area / w / 2):  # quick: two lines at most
            continue
        mine = labels[y : y + h, x : x + w] == i
        # Each pixel's vertical run in the mask: the line's thickness, or more where a stroke
        # crosses or lies along it.
        runs, _ = ndimage.label(mask[y : y + h, x : x + w], structure=[[0, 1, 0]] * 3)
        lengths = np.bincount(runs.ravel())[runs]
        # The line's thickness: per column its shortest run, so a digit on the line is no help.
        shortest = np.where(mine, lengths, np.iinfo(lengths.dtype).max).min(axis=0)
        thickness = max(LINE_MIN_THICKNESS, float(np.median(shortest[mine.any(axis=0)])))
        if w < LINE_STROKES * thickness:
            continue
        thin = (mine & (lengths <= 1.5 * thickness)).astype(np.uint8)
        # Lines joined only through a digit are apart here: each gets its own path.
        pieces, owners, sizes = _components(thin)
        for j in range(1, pieces):
            px, py, pw, ph = (int(v) for v in sizes[j, :4])
            if pw < LINE_PIECE * thickness:
                continue
            piece = owners[py : py + ph, px : px + pw] == j
            out[y + py : y + py + ph, x + px : x + px + pw] |= (
                piece & _near_path(piece, thickness)
            ).astype(np.uint8)
    # The anti-aliased edges: a pixel more across the line, where there is ink.
    return cv2.dilate(out, np.ones((3, 1), np.uint8)) & mask


def _near_path(thin: np.ndarray, thickness: float) -> np.ndarray:
    """Pixels within half a line's thickness (and one) of its path: per column, the middle of
    its thin pixels, smoothed along the line so a digit's bar beside it does not pull it."""
    counts = thin.sum(axis=0)
    rows = np.arange(thin.shape[0], dtype=np.float64)
    columns = np.flatnonzero(counts)
    middle = (thin * rows[:, None]).sum(axis=0)[columns] / counts[columns]
    path = np.interp(np.arange(thin.shape[1]), columns, middle)
    path = ndimage.median_filter(path, size=PATH_SMOOTH, mode="nearest")
    return np.abs(rows[:, None] - path[None, :]) <= thickness / 2 + 1


def _frames(mask: np.ndarray, components: tuple) -> np.ndarray:
    """Components whose box holds another sizeable component and whose hull is mostly hole."""
    count, labels, stats = components
    out = np.zeros_like(mask)
    if count <= 2:
        return out
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
    heights = stats[:, cv2.CC_STAT_HEIGHT]
    for i in range(1, count):
        inside = (
            (x0 > x0[i]) & (y0 > y0[i]) & (x1 < x1[i]) & (y1 < y1[i])
            & (heights >= FRAME_INNER_HEIGHT * heights[i])
        )  # fmt: skip
        inside[0] = inside[i] = False
        if inside.any() and _hull_hole_share(labels, stats, i) >= FRAME_HOLE:
            out[labels == i] = 1
    return out


def _rings(mask: np.ndarray, components: tuple) -> np.ndarray:
    """The bands of circles drawn around a digit and touching it (one component with it, so no
    frame by ``_frames``), among the CANDIDATES largest components."""
    count, labels, stats = components
    out = np.zeros_like(mask)
    for i in 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:CANDIDATES]:
        x, y, w, h = (int(v) for v in stats[i, :4])
        if min(w, h) < 4 * MIN_GLYPH_PX:
            continue
        own = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        band = _ring_band(own)
        if band is not None:
            out[y : y + h, x : x + w] |= band
    return out


def _ring_band(own: np.ndarray) -> np.ndarray | None:
    """The ring's band of ``own`` (one component), or None when it is no ring around a glyph."""
    contours, _ = cv2.findContours(own, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    edge = max(contours, key=len)
    if len(edge) < 20:
        return None
    (cx, cy), axes, angle = cv2.fitEllipse(edge)
    if min(axes) < 2 * MIN_GLYPH_PX:
        return None
    turn = np.radians(angle)

    def polar(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Radius (1 on the ellipse) and direction of points in the ellipse's own frame."""
        u = ((xs - cx) * np.cos(turn) + (ys - cy) * np.sin(turn)) / (axes[0] / 2)
        v = (-(xs - cx) * np.sin(turn) + (ys - cy) * np.cos(turn)) / (axes[1] / 2)
        return np.hypot(u, v), np.arctan2(v, u)

    radius, _ = polar(edge[:, 0, 0].astype(float), edge[:, 0, 1].astype(float))
    if np.median(np.abs(radius - 1)) > RING_FIT:
        return None
    ys, xs = np.nonzero(own)
    radius, direction = polar(xs.astype(float), ys.astype(float))
    # The line's thickness: per direction, twice the deepest ink of the outer fifth (the digit
    # touches the ring in a few directions only, so the median is the ring's own).
    depth = cv2.distanceTransform(own, cv2.DIST_L2, 3)[ys, xs]
    sector = ((direction + np.pi) / (2 * np.pi) * RING_SECTORS).astype(int) % RING_SECTORS
    outer = radius >= 0.8
    deepest = np.zeros(RING_SECTORS)
    np.maximum.at(deepest, sector[outer], depth[outer])
    inked = deepest > 0
    if inked.mean() < RING_COVER:
        return None
    thickness = 2 * float(np.median(deepest[inked]))
    if thickness > RING_THIN * min(axes):
        return None
    band = (1 - radius) * sum(axes) / 4 <= thickness + 1
    inside = ys[~band]
    if inside.size < RING_INNER * np.count_nonzero(band) or np.ptp(inside) < 0.3 * min(axes):
        return None
    # A straight bar leaning inside: a slashed zero, kept whole (its ring is the 0). Judged on
    # the inner ink clear of what the band leaves of the ring's inner edge.
    core = radius < 0.8
    if not core.any():  # the ink "inside" is the frame's own (a box's corners): no glyph in it
        return None
    if _leaning_stroke(xs[core], ys[core], thickness, SLASH_LEAN):
        return None
    out = np.zeros_like(own)
    out[ys[band], xs[band]] = 1
    return out


def _hull_hole_share(labels: np.ndarray, stats: np.ndarray, i: int) -> float:
    """Share of component ``i``'s box inside its convex hull but not inked (0 where even its box
    is less empty than FRAME_HOLE): a circle drawn with its ends apart encloses nothing, but its
    hull is as empty as a closed one's."""
    x, y, w, h, area = (int(v) for v in stats[i])
    if area > (1 - FRAME_HOLE) * w * h:  # the hull lies in the box: not even the box is that empty
        return 0.0
    own = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
    # The hull of each row's first and last ink is the component's: 2 points a row, not all.
    rows = np.flatnonzero(own.any(axis=1))
    first = own[rows].argmax(axis=1)
    last = w - 1 - own[rows, ::-1].argmax(axis=1)
    ends = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)])
    hull = np.zeros_like(own)
    cv2.fillConvexPoly(hull, cv2.convexHull(ends.astype(np.int32)), 1)
    return float(np.count_nonzero(hull & (1 - own))) / (w * h)


def _hole_share(labels: np.ndarray, stats: np.ndarray, i: int) -> float:
    """Share of component ``i``'s box that it encloses without inking it."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    own = labels[y : y + h, x : x + w] == i
    filled = ndimage.binary_fill_holes(own)
    return float(np.count_nonzero(filled & ~own)) / (w * h)


def _candidates(
    labels: np.ndarray, stats: np.ndarray, mask: np.ndarray, widths: np.ndarray
) -> list[tuple]:
    """(score, label) of every glyph-shaped component, best first."""
    height, width = mask.shape
    areas = stats[:, cv2.CC_STAT_AREA].astype(float)
    areas[0] = 0
    floor = MIN_AREA_SHARE * areas.max()
    found = []
    for i in range(1, len(stats)):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < floor or h < MIN_GLYPH_PX:
            continue
        if not ASPECT[0] <= w / h <= ASPECT[1]:
            continue
        if not HEIGHT_STROKES[0] <= h / widths[i] <= HEIGHT_STROKES[1]:
            continue
        if h == height or w == width:  # touches both edges of the frame: a border or a line
            continue
        dx = (x + w / 2) / width - 0.5
        dy = (y + h / 2) / height - 0.5
        centre = 1 - CENTRE_WEIGHT * min(1.0, np.hypot(dx, dy) / np.hypot(0.5, 0.5))
        if _slanted_line(labels, stats, i, widths[i]):
            continue
        strokes = h / widths[i]
        outside = np.log(strokes / np.clip(strokes, *DIGIT_STROKES))
        shape = np.exp(-0.5 * (outside / DIGIT_STROKES_SPREAD) ** 2)
        found.append((np.sqrt(h) * area**0.25 * centre * shape, i))
    found.sort(reverse=True)
    return found


def _slanted_line(labels: np.ndarray, stats: np.ndarray, i: int, width: float) -> bool:
    """A straight stroke leaning more than a digit 1 does: an underline, a slash, or an arrow (a
    straight shaft with a small head) - most of its ink lies along its main axis."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
    return _leaning_stroke(xs, ys, width)


def _leaning_stroke(xs: np.ndarray, ys: np.ndarray, width: float, lean: float = MAX_LEAN) -> bool:
    """Whether ink at (``xs``, ``ys``) drawn ``width`` wide is a straight stroke leaning past
    ``lean`` degrees from vertical."""
    xs = xs - xs.mean()
    ys = ys - ys.mean()
    a, b, c = float(np.mean(xs * xs)), float(np.mean(xs * ys)), float(np.mean(ys * ys))
    angle = 0.5 * np.arctan2(2 * b, a - c)  # of the main axis, from the x axis
    across = np.abs(ys * np.cos(angle) - xs * np.sin(angle))
    along = xs * np.cos(angle) + ys * np.sin(angle)
    if along.max() - along.min() < LINE_MIN_LENGTH * width:
        return False
    if np.mean(across <= LINE_BAND * width) < LINE_SHARE:
        return False
    return 90 - abs(np.degrees(angle)) > lean


def _repeated(i: int, others: list[int], stats: np.ndarray, widths: np.ndarray) -> bool:
    """Another candidate has ``i``'s height, width, stroke and ink within REPEAT_TOLERANCE: the
    teeth of a form's comb or the walls of its cells repeat, a lone digit does not."""
    ref = np.array([*stats[i, 2:5], widths[i]], dtype=float)
    for j in others:
        if j != i:
            other = np.array([*stats[j, 2:5], widths[j]], dtype=float)
            if np.all(np.abs(other / ref - 1) <= REPEAT_TOLERANCE):
                return True
    return False


def _scored(labels: np.ndarray, stats: np.ndarray, mask: np.ndarray) -> tuple:
    """(stroke widths, candidates) of ``mask``'s components."""
    widths = _stroke_widths(labels, mask, len(stats))
    return widths, _candidates(labels, stats, mask, widths)


def _choose(labels: np.ndarray, stats: np.ndarray, scored: tuple) -> list[int] | None:
    """Labels of the glyph: the best-scoring component that is not hollow, and its neighbours
    (``scored``: ``_scored`` of these components)."""
    # A digit's loops are small next to its box (a thin 0: about half); a drawn box, circle or
    # frame is mostly hole: past MAX_HOLE it is passed over, below it the score falls with the
    # hole's share (with its square, a 0 or 8 lost to a tick on held-out busy pages: 88.7% ->
    # 90.0% right, another seed's 86.0% -> 86.7%).
    widths, candidates = scored
    scored = []
    for score, i in candidates[:CANDIDATES]:
        hole = _hole_share(labels, stats, i)
        if hole > MAX_HOLE:
            continue
        if _repeated(i, [j for _, j in candidates], stats, widths):
            score *= REPEATED_WEIGHT
        scored.append((score * (1 - hole), i))
    if not scored:
        return None
    seed = max(scored)[1]
    x, y, w, h = (int(v) for v in stats[seed, :4])
    box = [x, y, x + w, y + h]
    gap = JOIN_GAP * h
    chosen = [seed]
    near = np.argsort(stats[:, cv2.CC_STAT_AREA])[::-1]
    for j in near:
        if j == 0 or j == seed:
            continue
        if not JOIN_STROKE <= widths[j] / widths[seed] <= 1 / JOIN_STROKE:
            continue  # another pen, or a line: not a stroke of this glyph
        jx, jy, jw, jh = (int(v) for v in stats[j, :4])
        apart = max(jx - box[2], box[0] - (jx + jw), jy - box[3], box[1] - (jy + jh), 0)
        if apart > gap:
            continue
        union = [min(box[0], jx), min(box[1], jy), max(box[2], jx + jw), max(box[3], jy + jh)]
        if union[3] - union[1] > JOIN_GROWTH * h or union[2] - union[0] > JOIN_GROWTH * max(w, h):
            continue
        if jx <= box[0] and jy <= box[1] and jx + jw >= box[2] and jy + jh >= box[3]:
            continue  # it surrounds the glyph: a frame, not a stroke
        chosen.append(int(j))
        box = union
    return chosen
