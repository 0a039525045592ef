"""Irreversible masks: a solid fill or coarse pixelation over detected lines, static zones and all that lies outside
the camera's shown area.

A detected line is masked along its own quadrilateral, grown by a margin proportional to its height, so a tilted
card does not take a padded upright box of the infant beside it with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache, partial
from typing import Any, TypeVar

import cv2
import numpy as np

from cradle.media.frames import Box
from cradle.media.redact.policy import CameraPolicy, Zone

FILL_BGR = (48, 48, 48)
_FILL = np.array(FILL_BGR, np.uint8)
# A region a detector gives: an upright box (x0, y0, x1, y1) or a quadrilateral (4x2 points).
Region = Box | np.ndarray


def as_quad(region: Region) -> np.ndarray:
    """The region as 4x2 float32 points (an upright box becomes its four corners)."""
    if isinstance(region, np.ndarray) and region.shape == (4, 2):
        return region.astype(np.float32, copy=False)
    x0, y0, x1, y1 = (float(v) for v in region)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


# A line's end grows only over the same paper: where the paper's grey beyond it (its 90th percentile under dark ink,
# 10th under light) is within this share of the line's own ink depth (paper to ink) of the line's paper, and never
# more than SAME_PAPER_MAX grey levels off.
SAME_PAPER_SHARE, SAME_PAPER_MIN, SAME_PAPER_MAX = 0.3, 6, 30
# ... and only where there is ink beyond it: the ink's depth there is at least this share of the line's own,
INK_DEPTH = 0.5
# ... and it is the line's ink: its darkest tail (lightest, for light type) within this share of the line's depth of
# the line's own. A card's coloured border, or the edge of the mattress or the infant beside a card at night, has
# contrast enough but not the ink's grey (measured on tuning scenes 2 and 18: ends grew by up to 48 px over them).
INK_LEVEL = 0.3
# An end grows by this share of the line's height at a time (about one glyph of Latin type, half a CJK one).
END_STEP = 0.5


def grow(region: Region, policy: CameraPolicy, grey: np.ndarray | None = None) -> np.ndarray:
    """The region's rotated rectangle grown by the policy's margin on every side, as an int32 polygon.

    Detectors often stop a glyph short of a line's ends, so a line's ends grow by up to `end_ratio` of its height,
    but (given the frame's `grey`) only half a height at a time while the same paper as the line's, with ink on it,
    lies beyond: a card's edge, the infant or the incubator next to it stays. Nor does an end's margin reach past
    the paper's edge (`_paper_run`): a card's first glyphs lie a few pixels inside its border, and a margin of a
    third of a line's height beyond them took a strip of the infant lying next to the card (tuning scenes 2 and 18).
    Above and below, the margin stops at the paper's edge likewise (`_paper_run` with `span`), never closer than
    `margin_px`.
    """
    quad = as_quad(region)
    (cx, cy), (w, h), angle = cv2.minAreaRect(quad)
    if w < h:
        w, h, angle = h, w, angle + 90
    side = policy.margin_px + policy.margin_ratio * h
    if w < 2 * h:  # a box, not a line
        return _rect(cx, cy, w + 2 * side, h + 2 * side, angle)
    end = policy.margin_px + policy.end_ratio * h
    ux, uy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    grown = [side, side]
    paper = None if grey is None else _paper(grey, quad)
    for k, sign in enumerate((-1, 1)):
        if paper is None or grey is None:  # no picture, or nothing of the line on it: grow (failing towards masking)
            grown[k] = end
            continue
        # Glyph by glyph (half a height at a time), while the same paper with ink on it goes on.
        step, reached = max(1.0, END_STEP * h), 0.0
        while reached < end:
            length = min(step, end - reached)
            middle = (w / 2 + reached + length / 2) * sign
            if not _same_paper(grey, paper, (cx + ux * middle, cy + uy * middle), length, h, angle):
                break
            reached += length
        grown[k] = max(side, reached + policy.margin_px if reached else side)
        # Never past the paper's edge: a card's border, and the infant or the mattress beside it, hold none of its ink.
        grown[k] = _paper_run(grey, paper, (cx, cy), (ux * sign, uy * sign), w / 2, grown[k], h)
    shift = (grown[1] - grown[0]) / 2
    if paper is None or grey is None:
        return _rect(cx + ux * shift, cy + uy * shift, w + grown[0] + grown[1], h + 2 * side, angle)
    # Above and below, the margin stops at the paper's edge too, though never closer than `margin_px`: the last line
    # of a card lies a few pixels above its edge, and the margin below it took a strip of the infant the card lay on
    # (tuning scene 38827). The paper is judged over the line's whole length, so its own glyphs' descenders do not
    # end it.
    edge = [
        max(
            float(policy.margin_px),
            _paper_run(grey, paper, (cx, cy), (-uy * sign, ux * sign), h / 2, side, h, span=w),
        )
        for sign in (-1, 1)
    ]
    lift = (edge[1] - edge[0]) / 2
    return _rect(cx + ux * shift - uy * lift, cy + uy * shift + ux * lift, w + grown[0] + grown[1],
                 h + edge[0] + edge[1], angle)  # fmt: skip


def reach(region: Region, policy: CameraPolicy) -> np.ndarray:
    """The region lengthened at both ends by the most `grow` may add there, but not widened, as an int32 polygon:
    where the line's glyphs may lie (a detector stops a glyph short at an end, not half a line above or below)."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(as_quad(region))
    if w < h:
        w, h, angle = h, w, angle + 90
    end = policy.margin_px + policy.end_ratio * h if w >= 2 * h else 0.0
    return _rect(cx, cy, w + 2 * end, h, angle)


def _rect(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    return np.round(cv2.boxPoints(((cx, cy), (w, h), angle))).astype(np.int32)


def _levels_in(grey: np.ndarray, polygon: np.ndarray) -> np.ndarray | None:
    height, width = grey.shape
    x0, y0 = np.clip(np.floor(polygon.min(axis=0)).astype(int), 0, (width, height))
    x1, y1 = np.clip(np.ceil(polygon.max(axis=0)).astype(int) + 1, 0, (width, height))
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(polygon - (x0, y0)).astype(np.int32), 1)
    values = grey[y0:y1, x0:x1][mask.astype(bool)]
    return values if values.size else None


def _quantiles(values: np.ndarray, *shares: float) -> list[float]:
    """The values at these shares of their sorted order (nearest rank; np.percentile costs ten times more here)."""
    last = len(values) - 1
    ranks = [round(share * last) for share in shares]
    ordered = np.partition(values, ranks)
    return [float(ordered[rank]) for rank in ranks]


def _paper(grey: np.ndarray, line: np.ndarray) -> tuple[float, float, bool] | None:
    """The line's paper and ink grey levels, and whether its ink is dark; None when it is off the picture.

    Ink is the tail of the line's grey levels that lies farther from its median (dark type, or light type on a dark
    bar); the other tail (10th or 90th percentile) is its paper."""
    own = _levels_in(grey, line)
    if own is None:
        return None
    low, middle, high = _quantiles(own, 0.1, 0.5, 0.9)
    dark = middle - low >= high - middle
    return (high, low, True) if dark else (low, high, False)


def _same_paper(grey: np.ndarray, paper: tuple[float, float, bool], centre: tuple[float, float], length: float,
                height: float, angle: float) -> bool:  # fmt: skip
    """True when the line's paper goes on beyond its end and carries ink there (a glyph the detector stopped short
    of). Blank paper needs no more than the margin; the infant or a blanket next to a card at night can have the
    card's grey, but not ink on it."""
    beyond = _levels_in(grey, cv2.boxPoints((centre, (length, height), angle)))
    if beyond is None:  # off the picture: grow (failing towards masking)
        return True
    level, ink, dark = paper
    b_low, b_high = _quantiles(beyond, 0.1, 0.9)
    b_paper, b_ink = (b_high, b_low) if dark else (b_low, b_high)
    depth = abs(level - ink)
    allowed = min(SAME_PAPER_MAX, max(SAME_PAPER_MIN, SAME_PAPER_SHARE * depth))
    # The same paper goes on, and ink on it reaches as deep (noise spreads both tails alike, and less).
    same_ink = abs(b_ink - ink) <= INK_LEVEL * depth
    return abs(b_paper - level) <= allowed and abs(b_paper - b_ink) >= INK_DEPTH * depth and same_ink


# The paper ends where the median grey differs from the line's own by this share of its ink depth, and by at least
# PAPER_EDGE_MIN grey levels (faint ink at night: the median of a strip over a glyph the detector stopped short of
# moves by more than SAME_PAPER_MIN), at most SAME_PAPER_MAX. A card's border, or the infant beside the card by day,
# differs by 50 levels or more.
PAPER_EDGE_MIN = 20
# Above and below a line, its paper's level is read on this many rows just beyond it.
BESIDE = 2


def _paper_run(
    grey: np.ndarray,
    paper: tuple[float, float, bool],
    centre: tuple[float, float],
    direction: tuple[float, float],
    start: float,
    most: float,
    height: float,
    span: float | None = None,
) -> float:
    """How far (up to `most` pixels) the line's paper goes on from `start` pixels out of its centre along `direction`
    (the line's own): pixel by pixel, while the median grey across twice the line's height is what it is over the
    line's own last half height (its paper: ink fills less than half of such a strip).

    A glyph beyond the end fills less than half of such a strip, so its ink does not end the paper; a card's border
    or edge running across the line does, and so does the infant beside it, unless at night she has the paper's
    very grey and no border lies between. Median is compared with median: the line's paper level (`_paper`, a
    tail of its greys) lies a noise's width from the median of a noisy card at night, and faint ink's depth is
    little more (measured on tuning scene 211 drawn at night with ink at 0.4: its lines' ends were cut short).

    With `span` (above or below a line, `direction` across it): the strips are rows of the line's length, and the
    paper's level is taken on the BESIDE rows just beyond the line, not over its own half height, where bold or dense
    type can be more ink than paper. A card's edge within those rows leaves the margin whole (failing to masking)."""
    length = int(np.ceil(most))
    across = max(1, round(2 * height if span is None else span))
    inside = max(2, round(height / 2)) if span is None else 0
    if length <= (0 if span is None else BESIDE):
        return most
    dx, dy = direction
    # The strip from `inside` pixels within the end to `most` beyond it, straightened: column u is the pixels
    # `start - inside + u` out, across the line.
    begin = start - inside
    ox = centre[0] + dx * (begin + 0.5) - dy * (0.5 - across / 2)
    oy = centre[1] + dy * (begin + 0.5) + dx * (0.5 - across / 2)
    warp = np.array([[dx, -dy, ox], [dy, dx, oy]], np.float64)
    strip = cv2.warpAffine(
        grey, warp, (inside + length, across), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    level = float(np.median(strip[:, :inside] if span is None else strip[:, :BESIDE]))
    out = start + 0.5 + np.arange(length)
    xs, ys = centre[0] + dx * out, centre[1] + dy * out
    gone = np.nonzero((xs < 0) | (ys < 0) | (xs >= grey.shape[1]) | (ys >= grey.shape[0]))[0]
    top, ink, _dark = paper
    allowed = min(SAME_PAPER_MAX, max(PAPER_EDGE_MIN, SAME_PAPER_SHARE * abs(top - ink)))
    ended = np.nonzero(np.abs(np.median(strip[:, inside:], axis=0) - level) > allowed)[0]
    if len(ended) == 0 or (len(gone) and gone[0] < ended[0]):  # (off the picture first: grow, failing to masking)
        return most
    return float(min(most, ended[0]))


def zone_polygons(zones: Iterable[Zone], width: int, height: int) -> list[np.ndarray]:
    return [np.round(np.array(zone) * (width, height)).astype(np.int32) for zone in zones]


@lru_cache(maxsize=8)
def outside(area: Zone | None, width: int, height: int) -> np.ndarray | None:
    """Pixels outside the shown area (bool, read-only), or None when the camera has no shown area."""
    if area is None:
        return None
    inside = np.zeros((height, width), np.uint8)
    cv2.fillPoly(inside, zone_polygons([area], width, height), 1)  # one polygon: parity cannot cancel it
    mask = inside == 0
    mask.flags.writeable = False
    return mask


T = TypeVar("T")

# Lines closer than this many of their own (grown) heights belong to one block of text.
BLOCK_GAP = 0.8
# ... and are masked as one block only when its hull is at most this many times the lines' own area.
BLOCK_FILL = 1.5
# Entries a caller's memo of lines and bridges may hold before it is emptied (see `blocks`).
MEMO_KEPT = 4096
# A memo's answer not yet worked out (None is an answer: two marks too far apart to bridge).
_UNKNOWN: Any = object()


def _line(polygon: np.ndarray) -> tuple[tuple[float, float], float, float, float]:
    """Centre, length, height and direction (degrees, 0-180) of a grown line."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(polygon.astype(np.float32))
    if w < h:
        w, h, angle = h, w, angle + 90
    return (cx, cy), w, h, angle % 180


def blocks(
    polygons: Sequence[np.ndarray],
    shape: tuple[int, int],
    lines: Sequence[np.ndarray] | None = None,
    memo: dict | None = None,
) -> list[np.ndarray]:
    """Bridges between neighbouring lines of a block of text (grown lines), as convex hulls of two lines each (int32).

    With `lines` (the same lines as found, before growing), a bridge is the hull of the two lines as found: the hull
    of two grown lines whose ends grew by different amounts reached past the card, over the infant beside it
    (measured on tuning scenes 2 and 18), and each line is masked grown on its own anyway.

    Two lines are neighbours in a block (a card, a label) when they have about the same height and tilt and lie
    within BLOCK_GAP of their height of each other; the hull of the two is masked (unless it is mostly empty,
    BLOCK_FILL), so a line or part of a line the detector did not report (faded, under glare) between or beside the
    lines it did report goes too. Only neighbours are bridged, never a whole chain of them at once: the hull of a
    card and a label that happen to lie near it would cover the infant between them.

    `memo`, a dict the caller keeps from frame to frame, remembers each line's shape and each pair's bridge by their
    polygons' bytes: a camera's lines stay where they are for many frames, and the same answer is not worked out again.
    """
    count = len(polygons)
    if count < 2:
        return []
    if memo is not None and len(memo) > MEMO_KEPT:
        memo.clear()
    keys = [p.tobytes() for p in polygons]
    shapes = [_memo(memo, ("line", key), partial(_line, p)) for p, key in zip(polygons, keys, strict=True)]
    found = polygons if lines is None else [np.asarray(p, np.float32).reshape(-1, 2) for p in lines]
    found_keys = None if lines is None else [p.tobytes() for p in found]
    # Every pair at once (a busy frame has dozens of lines, hundreds of pairs), i < j as (rows, columns).
    centres = np.array([shape[0] for shape in shapes], np.float64)
    length, height, angle = (np.array([shape[k] for shape in shapes], np.float64) for k in (1, 2, 3))
    rows, cols = np.triu_indices(count, 1)
    turn = np.abs(angle[rows] - angle[cols])
    taller, shorter = np.maximum(height[rows], height[cols]), np.minimum(height[rows], height[cols])
    alike = (taller <= 2 * shorter) & (np.minimum(turn, 180 - turn) <= 12)
    reach = BLOCK_GAP * taller
    offset = centres[cols] - centres[rows]
    radians = np.radians(angle[rows])
    cos, sin = np.cos(radians), np.sin(radians)
    # End to end along the line (< 0: side by side), and centre to centre across it.
    gap = np.abs(offset[:, 0] * cos + offset[:, 1] * sin) - (length[rows] + length[cols]) / 2
    apart = np.abs(offset[:, 1] * cos - offset[:, 0] * sin)
    # The next line of the block: side by side for at least half the shorter one; or the same line, broken.
    side_by_side = gap <= -np.minimum(length[rows], length[cols]) / 2
    stacked = side_by_side & (apart <= (height[rows] + height[cols]) / 2 + reach)
    continued = (apart <= taller / 2) & (gap <= reach)
    neighbours = alike & (stacked | continued)
    hulls = []
    # A busy frame bridges hundreds of pairs, nearly all of them known from the frame before: the memo is asked
    # directly, each line's bytes taken once.
    for i, j in zip(rows[neighbours].tolist(), cols[neighbours].tolist(), strict=True):
        key = ("pair", keys[i], keys[j], None if found_keys is None else (found_keys[i], found_keys[j]))
        hull: np.ndarray | None = _UNKNOWN if memo is None else memo.get(key, _UNKNOWN)
        if hull is _UNKNOWN:
            hull = _bridge(polygons[i], polygons[j], found[i], found[j], lines)
            if memo is not None:
                memo[key] = hull
        if hull is not None:
            hulls.append(hull)
    return hulls


def _bridge(a: np.ndarray, b: np.ndarray, found_a: np.ndarray, found_b: np.ndarray, lines: object) -> np.ndarray | None:
    """The hull bridging two neighbouring grown lines `a` and `b` (over the lines as found when `lines` were given),
    or None when they are marks far apart rather than lines of one block: their hull would mostly cover what lies
    between them."""
    hull = cv2.convexHull(np.concatenate([a, b]))
    if cv2.contourArea(hull) > BLOCK_FILL * (
        cv2.contourArea(a.astype(np.float32)) + cv2.contourArea(b.astype(np.float32))
    ):
        return None
    if lines is not None:
        hull = np.round(cv2.convexHull(np.concatenate([found_a, found_b]))).astype(np.int32)
    return hull


def _memo(memo: dict | None, key: object, make: Callable[[], T]) -> T:
    if memo is None:
        return make()
    if key not in memo:
        memo[key] = make()
    return memo[key]


def coverage(
    shape: tuple[int, int],
    policy: CameraPolicy,
    polygons: Sequence[np.ndarray],
    loose: Sequence[np.ndarray] = (),
    extra: np.ndarray | None = None,
    lines: Sequence[Region] | None = None,
    memo: dict | None = None,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """A boolean mask of the pixels to destroy: static zones, grown lines (`polygons`) and the blocks they form
    (bridged over the same `lines` as found, when given; see `blocks`), `loose` polygons (masked as they are, never
    joined into blocks), `extra` pixels, and everything outside the shown area. `memo` goes to `blocks`; `base`, when
    given, is `line_cover` of the very same polygons and lines, made for an earlier frame (not changed here)."""
    height, width = shape
    mask = line_cover(shape, polygons, lines, memo) if base is None else base.copy()
    # One polygon at a time: fillPoly given several fills by parity, so two overlapping lines would cancel out.
    for polygon in loose:
        cv2.fillConvexPoly(mask, polygon, 1)
    for zone in zone_polygons(policy.zones, width, height):
        cv2.fillPoly(mask, [zone], 1)
    if extra is not None:
        mask |= extra
    covered = mask.view(bool)
    hidden = outside(policy.shown_area, width, height)
    if hidden is not None:
        covered |= hidden
    return covered


def line_cover(
    shape: tuple[int, int],
    polygons: Sequence[np.ndarray],
    lines: Sequence[Region] | None = None,
    memo: dict | None = None,
) -> np.ndarray:
    """The grown lines (`polygons`) and the blocks they form (see `coverage`) as a uint8 0/1 picture: the costly part
    of a frame's coverage, the same while the same looks' lines stand."""
    mask = np.zeros(shape, np.uint8)
    # One polygon at a time: fillPoly given several fills by parity, so two overlapping lines would cancel out.
    for polygon in polygons:
        cv2.fillConvexPoly(mask, polygon, 1)
    found = None if lines is None else [as_quad(line) for line in lines]
    for hull in blocks(polygons, shape, found, memo):
        cv2.fillConvexPoly(mask, hull, 1)
    return mask


@lru_cache(maxsize=8)
def _fill(height: int, width: int) -> np.ndarray:
    fill = np.empty((height, width, 3), np.uint8)
    fill[:] = _FILL
    fill.flags.writeable = False
    return fill


def apply(image: np.ndarray, covered: np.ndarray, policy: CameraPolicy) -> np.ndarray:
    """A copy of `image` with the covered pixels destroyed."""
    out = image.copy()
    if not covered.any():
        return out
    height, width = image.shape[:2]
    where = covered.view(np.uint8)
    if policy.mask == "fill":
        out = cv2.copyTo(_fill(height, width), where, out)  # a tenth of numpy's copyto with a broadcast mask
        return out
    block = policy.block_px
    small = cv2.resize(image, (max(1, width // block), max(1, height // block)), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    out = cv2.copyTo(coarse, where, out)
    return out
