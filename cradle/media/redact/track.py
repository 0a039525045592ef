"""Where the lines a group held at rest lie now, found by their own ink: a carried card followed by its picture.

A group on the move is *followed* (trail.py) when the frame's looks account for its text. Counting the rows they find
is fragile: at night, under glare or motion blur a look loses a row, and a label the group's ring of cells reached
counts as one more or one fewer, so the card is not followed and every cell it passed through stays masked over the
infant (tuning 43000: a card carried over her, 28.7 % of her left untouched).

A card is rigid, and each line's ink as its look saw it at rest is kept (ink.py). So each of the lines the group held
is looked for in the picture now, by normalised correlation of that crop, within the cells the group covers:
  - a line whose ink still shows where it was found *stays* (a label beside the card, a line under a hand);
  - every other line must be found at one and the same shift (the sum of their correlation maps votes for it), with
    on average at least FOUND_SHARE of the correlation two noisy views of a line would have (each at least
    LINE_SHARE), and the shift must be at least half a line's height (the card was carried);
  - otherwise the card is not located, and the group's cells stay masked whole (fail closed).
Located, the lines are masked where they are now, each lengthened along the motion by half the frame's shift either
way (motion blur smears a glyph over at most the distance it moves between frames), but by no more than half the
line's height (a line smeared further would not have matched its ink).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from cradle.media.redact import masks
from cradle.media.redact.ink import InkMemory

# The lines are found at a shift where their correlations reach, on average, this share of what two noisy views of
# each would give (ink.py's expected correlation; below half, ink.py calls a line slipped), and each line at least
# LINE_SHARE of its own: motion blur takes a line of small type down to about 0.5 of it (tuning 43029, 43031), while a
# line covered or gone gives next to nothing, and a false shift would need every line of the card to match at once.
FOUND_SHARE = 0.5
LINE_SHARE = 0.35
# A group of a single line is located only with a stronger match (no other line confirms the shift).
FOUND_SHARE_ALONE = 0.8
# The coarse search runs on a copy scaled so that the median line is about this many pixels high.
COARSE_LINE_PX = 12
# At most this many lines are looked for (the longest: a card's long lines are its most distinctive).
MOST_LINES = 8


@dataclass(slots=True, frozen=True)
class Located:
    """Where a group's lines lie now: `shift` (dx, dy) from where they were found, for the lines `carried`; `stayed`
    lines still show where they were found."""

    shift: tuple[int, int]
    carried: tuple[masks.Region, ...]
    stayed: tuple[masks.Region, ...]


def locate(
    lines: list[masks.Region], ink: InkMemory, image: np.ndarray, area: tuple[int, int, int, int]
) -> Located | None:
    """The shift at which `lines` (found at rest, their ink kept in `ink`) lie in `image` within `area` (x0, y0, x1,
    y1: where the group may be), or None when some line is neither where it was nor at a shift shared by the rest."""
    if not lines:
        return None
    stayed: list[masks.Region] = []
    moving: list[tuple[masks.Region, tuple[int, int, int, int], np.ndarray, float]] = []
    for line in lines:
        kept = ink.template(line)
        if kept is None:
            return None  # a line whose ink was not kept (too little of it) cannot be looked for
        box, crop, expected = kept
        if expected <= 0 or ink.shows(line, image):
            if expected <= 0:
                return None
            stayed.append(line)
        else:
            moving.append((line, box, crop, expected))
    if not moving:
        return None
    moving.sort(key=lambda m: -(m[1][2] - m[1][0]))
    searched = moving[:MOST_LINES]
    shift = _vote(searched, image, area)
    if shift is None:
        return None
    dx, dy = shift
    height = float(np.median([b[3] - b[1] for _, b, _, _ in moving]))
    if math.hypot(dx, dy) < 0.5 * height:
        return None
    shares = [_correlation(image, crop, box, dx, dy) / expected for _line, box, crop, expected in moving]
    if len(moving) == 1:
        if shares[0] < FOUND_SHARE_ALONE:
            return None
    elif min(shares) < LINE_SHARE or float(np.mean(shares)) < FOUND_SHARE:
        return None
    return Located((dx, dy), tuple(m[0] for m in moving), tuple(stayed))


def shifted(line: masks.Region, shift: tuple[float, float], motion: tuple[float, float]) -> np.ndarray:
    """`line` moved by `shift` and lengthened along `motion` (the frame's own shift) by half of it either way, but by
    no more than half the line's height: motion blur is no longer than the motion in a frame, and a line blurred
    over more than its height would not have been found by its ink (FOUND_SHARE). As a 4x2 rotated rectangle."""
    quad = masks.as_quad(line) + np.asarray(shift, np.float32)
    _, (w, h), _ = cv2.minAreaRect(quad)
    length = math.hypot(*motion)
    half = np.asarray(motion, np.float32) * (min(0.5 * length, 0.5 * min(w, h)) / length if length else 0.0)
    rect = cv2.minAreaRect(np.vstack([quad - half, quad + half]).astype(np.float32))
    return cv2.boxPoints(rect).astype(np.float32)


def swept(line: masks.Region, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """The places `line` passes through moved from `start` to `end` (shifts), as a 4x2 rotated rectangle."""
    quad = masks.as_quad(line)
    ends = np.vstack([quad + np.asarray(start, np.float32), quad + np.asarray(end, np.float32)])
    rect = cv2.minAreaRect(ends.astype(np.float32))
    return cv2.boxPoints(rect).astype(np.float32)


def _vote(
    lines: list[tuple[masks.Region, tuple[int, int, int, int], np.ndarray, float]],
    image: np.ndarray,
    area: tuple[int, int, int, int],
) -> tuple[int, int] | None:
    """The shift at which the lines' summed correlation is highest (coarse on a scaled copy, then to the pixel)."""
    ax0, ay0, ax1, ay1 = area
    # Shifts that keep every line inside the area.
    lo_x = max(ax0 - b[0] for _, b, _, _ in lines)
    hi_x = min(ax1 - b[2] for _, b, _, _ in lines)
    lo_y = max(ay0 - b[1] for _, b, _, _ in lines)
    hi_y = min(ay1 - b[3] for _, b, _, _ in lines)
    if hi_x < lo_x or hi_y < lo_y:
        return None
    heights = [b[3] - b[1] for _, b, _, _ in lines]
    scale = min(1.0, COARSE_LINE_PX / max(1.0, float(np.median(heights))))
    grey = _grey(image[ay0:ay1, ax0:ax1])
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    total: np.ndarray | None = None
    for _, (x0, y0, _x1, _y1), crop, _ in lines:
        # The part of the area any allowed shift may put this line in, scaled.
        wx0, wy0 = int((x0 + lo_x - ax0) * scale), int((y0 + lo_y - ay0) * scale)
        template = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
        th, tw = template.shape
        if th < 3 or tw < 3:
            return None
        span_x, span_y = int((hi_x - lo_x) * scale) + 1, int((hi_y - lo_y) * scale) + 1
        window = small[wy0 : wy0 + th + span_y - 1, wx0 : wx0 + tw + span_x - 1]
        if window.shape[0] < th or window.shape[1] < tw:
            return None
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)[:span_y, :span_x]
        if total is None:
            total = scores.copy()
        else:
            h, w = min(total.shape[0], scores.shape[0]), min(total.shape[1], scores.shape[1])
            total = total[:h, :w] + scores[:h, :w]
    if total is None:
        return None
    _, _, _, (bx, by) = cv2.minMaxLoc(total)
    coarse = (lo_x + bx / scale, lo_y + by / scale)
    # To the pixel, around the coarse shift: each line's correlation over the shifts near it, summed.
    reach = math.ceil(1 / scale) + 1
    cx0, cx1 = max(lo_x, round(coarse[0]) - reach), min(hi_x, round(coarse[0]) + reach)
    cy0, cy1 = max(lo_y, round(coarse[1]) - reach), min(hi_y, round(coarse[1]) + reach)
    if cx1 < cx0 or cy1 < cy0:
        return None
    fine = np.zeros((cy1 - cy0 + 1, cx1 - cx0 + 1), np.float32)
    for _, (x0, y0, x1, y1), crop, _ in lines:
        window = _grey(image[y0 + cy0 : y1 + cy1, x0 + cx0 : x1 + cx1])
        fine += cv2.matchTemplate(window, crop, cv2.TM_CCOEFF_NORMED)
    _, _, _, (bx, by) = cv2.minMaxLoc(fine)
    return cx0 + bx, cy0 + by


def _correlation(image: np.ndarray, crop: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> float:
    x0, y0, x1, y1 = box
    height, width = image.shape[:2]
    if x0 + dx < 0 or y0 + dy < 0 or x1 + dx > width or y1 + dy > height:
        return -1.0
    now = _grey(image[y0 + dy : y1 + dy, x0 + dx : x1 + dx])
    return float(cv2.matchTemplate(now, crop, cv2.TM_CCOEFF_NORMED)[0, 0])


def _grey(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return grey.astype(np.float32)
