"""An independent, cheap check for text-like marks: rows of character-sized blobs of similar height.

It shares nothing with the text detector (no network, no training), so a line the detector cannot see — an unusual
typeface, faint ink, a size it misses — is still flagged when it looks like a row of characters. It runs on the
same crops the detector looks at, and whatever it finds that the detector did not is masked too.

Characters are the connected blobs of a locally thresholded picture (dark on light and light on dark), kept when
their size and fill are those of glyphs and they have paper above and below them; a line is a chain of at least
MIN_CHAIN such blobs of similar height, each within a gap of about its height from the next, along a direction at
most about 20° from horizontal. Smooth things (skin, blankets, the incubator) give no blobs; single edges and long
lines give blobs of the wrong shape, and the edge of an object against a lighter one has no paper on its side.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MIN_CHAIN = 3
# Blob heights looked for, in pixels of the picture checked.
MIN_HEIGHT, MAX_HEIGHT = 5, 90


# Ink differs from its surroundings by at least INK_MARGIN grey levels, and by NOISE_MARGINS times the picture's
# noise: against a fixed margin a night view's sensor noise, even blurred, forms rows of "glyphs" over the infant
# (measured on tuning scenes 200-259: infant pixels hit 0.81 % with the fixed margin, 0.04 % with this one, and the
# share of PHI found unchanged).
INK_MARGIN, NOISE_MARGINS = 12, 2.5


# A glyph is ink with paper above and below it: the upper quartile of a strip a quarter of the blob's height just
# above it, and of one just below, lies at least ENCLOSED_SHARE of the ink margin beyond the blob's own ink (its 10th
# percentile; the 90th for light ink). Ink is darker than its surroundings' mean by the margin and paper is lighter
# than that mean, so a glyph clears one margin; the edge of a dark object against a lighter one (the infant on a
# mattress, her outline at night, a blanket's fold) breaks into a staircase of flat "glyphs" that the object itself
# continues above or below, and those chained into tilted lines that masked the infant. Share of the infant's pixels
# under the check's lines, and share of the PHI pixels the detector missed that the check found (whole frames 0 and
# 12 of tuning scenes; scenes 8000-8099 looked at only after the share was chosen):
#   without the rule: 5000-5149 0.137 % (over 2 % on 10 of 300 frames, 23 % on scene 5006); 8000-8099 0.134 %, 17.1 %
#   share 0.5:        5000-5149 0.011 %; 8000-8099 0.012 %, 15.0 %
#   share 1.0:        5000-5149 0.000 %; 8000-8099 0.001 %, 14.6 %
# and on scenes 9000-9099, looked at last: 0.228 % (9 frames over 2 %) -> 0.012 % (2 frames); 34.4 % -> 26.5 %, nine
# tenths of the difference on one frame, where the old lines ran on from a card's words past the edge of a hand.
# (An ink margin of 10 instead of 12 found more on 8000-8099 and less on 9000-9099: 17.1 and 19.8 %.)
# What it gives up are lines right under a card's border or a hand, and a monitor header's bar between its letters
# (which the monitor rule masks anyway). 40 night clips (tuning seeds 3001-3140): 26 -> 29 pass, infant untouched
# 94.4 -> 96.0 %, PHI masked unchanged (99.99 %, worst clip 99.81 %).
# The levels come from grids of samples, all blobs at once: exact percentiles per blob in a loop cost 10 ms a frame.
ENCLOSED_SHARE = 1.0
ENCLOSED_QUANTILE = 75


def noise_level(grey: np.ndarray) -> float:
    """The picture's noise (standard deviation, grey levels, measured before any blur): the robust spread of what a
    small blur removes. Edges of ink and objects are a small share of the pixels and do not move the median."""
    residual = grey.astype(np.int16) - cv2.blur(grey, (3, 3)).astype(np.int16)
    return 1.4826 * float(np.median(np.abs(residual)))


def find_blobs(grey: np.ndarray, dark: bool, margin: float) -> np.ndarray:
    """Glyph-like blobs as rows of (x, y, w, h, cx, cy)."""
    block = 31
    polarity = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
    # Ink is darker (or lighter) than its surroundings by a clear margin, not by noise.
    binary = cv2.adaptiveThreshold(grey, 1, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, block, margin)
    count, _, stats, centres = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return np.empty((0, 6), np.float32)
    x, y, w, h, area = (stats[1:, k].astype(np.float32) for k in range(5))
    fill = area / np.maximum(1, w * h)
    keep = (
        (h >= MIN_HEIGHT)
        & (h <= MAX_HEIGHT)
        & (w >= 1)
        & (w <= 3.0 * h)
        & (fill >= 0.08)
        & (fill <= 0.95)
        & (area >= 6)
    )
    cx, cy = centres[1:, 0].astype(np.float32), centres[1:, 1].astype(np.float32)
    return np.stack([x, y, w, h, cx, cy], 1)[keep]


def _chains(blobs: np.ndarray) -> list[np.ndarray]:
    """Groups of blob indexes that form lines."""
    n = len(blobs)
    if n < MIN_CHAIN:
        return []
    order = np.argsort(blobs[:, 0])
    blobs = blobs[order]
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    x, w, h, centre_x, cy = blobs[:, 0], blobs[:, 2], blobs[:, 3], blobs[:, 4], blobs[:, 5]
    right = x + w
    for i in range(n):
        # Candidates start within a gap of about one height after blob i's right edge.
        reach = right[i] + 1.2 * h[i] + 2
        j = i + 1
        while j < n and x[j] <= reach:
            ratio = h[j] / h[i]
            along = abs(centre_x[j] - centre_x[i])
            if 0.5 <= ratio <= 2.0 and abs(cy[j] - cy[i]) <= 0.25 * max(h[i], h[j]) + 0.36 * along:
                a, b = find(i), find(j)
                if a != b:
                    parent[b] = a
            j += 1
    roots = np.array([find(i) for i in range(n)])
    out = []
    for root in np.unique(roots):
        members = np.nonzero(roots == root)[0]
        if len(members) >= MIN_CHAIN:
            out.append(order[members])
    return out


def x_y_w_h(blobs: np.ndarray) -> list[tuple[float, float, float, float]]:
    return [(float(x), float(y), float(w), float(h)) for x, y, w, h in blobs[:, :4]]


def grey_at(grey: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """grey at the points of a grid per blob: xs (blobs x columns) by ys (blobs x rows), as blobs x points."""
    height, width = grey.shape
    cols = np.clip(xs.astype(int), 0, width - 1)[:, None, :]
    rows = np.clip(ys.astype(int), 0, height - 1)[:, :, None]
    return grey[rows, cols].reshape(len(xs), -1).astype(np.float32)


def _enclosed(grey: np.ndarray, blobs: np.ndarray, dark: bool, margin: float) -> np.ndarray:
    """Which blobs have paper above and below them (ENCLOSED_SHARE); a strip beyond the picture's edge counts.

    Levels are quantiles of a grid of samples (8 x 8 in the blob, 8 x 2 in each strip), for all blobs at once."""
    x, y, w, h = (blobs[:, k] for k in range(4))
    steps = (np.arange(8) + 0.5) / 8
    xs = x[:, None] + steps[None, :] * w[:, None]
    ink = np.percentile(grey_at(grey, xs, y[:, None] + steps[None, :] * h[:, None]), 10 if dark else 90, axis=1)
    strip = np.maximum(2.0, np.round(h / 4))
    keep = np.ones(len(blobs), bool)
    for top in (y - strip, y + h):
        rows = top[:, None] + np.array([0.25, 0.75])[None, :] * strip[:, None]
        paper = np.percentile(grey_at(grey, xs, rows), ENCLOSED_QUANTILE if dark else 100 - ENCLOSED_QUANTILE, axis=1)
        inside = (top >= 0) & (top + strip <= grey.shape[0])
        keep &= ~inside | ((paper - ink if dark else ink - paper) >= ENCLOSED_SHARE * margin)
    return keep


def glyph_rows(grey: np.ndarray, blobs: np.ndarray, dark: bool, margin: float) -> list[np.ndarray]:
    """Chains of enclosed glyph-like blobs (indexes into `blobs`); only blobs some chain holds are checked."""
    chains = _chains(blobs)
    if not chains:
        return []
    members = np.unique(np.concatenate(chains))
    members = members[_enclosed(grey, blobs[members], dark, margin)]
    if len(members) < MIN_CHAIN:
        return []
    return [members[chain] for chain in _chains(blobs[members])]


def ink_margin(grey: np.ndarray) -> float:
    """The grey levels by which the check's ink must differ from its surroundings in `grey` (INK_MARGIN)."""
    return max(INK_MARGIN, NOISE_MARGINS * noise_level(grey))


def text_like(image: np.ndarray, margin: float | None = None) -> list[np.ndarray]:
    """Quadrilaterals (4x2, pixels of `image`) around rows of character-like marks; `margin`: `ink_margin` of the
    image, when known."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    margin = ink_margin(grey) if margin is None else margin
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    quads = []
    for dark in (True, False):
        blobs = find_blobs(grey, dark, margin)
        for members in glyph_rows(grey, blobs, dark, margin):
            chain = blobs[members]
            x, y, w, h = chain[:, 0], chain[:, 1], chain[:, 2], chain[:, 3]
            points = np.concatenate(
                [np.stack([x, y], 1), np.stack([x + w, y], 1), np.stack([x + w, y + h], 1), np.stack([x, y + h], 1)]
            ).astype(np.float32)
            rect = cv2.minAreaRect(points)
            if min(rect[1]) <= 2.5 * float(np.median(h)):
                quads.append(cv2.boxPoints(rect))
                continue
            # Several lines chained together (a dense card): each blob on its own, so nothing between is lost.
            for a, b, c, d in x_y_w_h(chain):
                quads.append(np.array([[a, b], [a + c, b], [a + c, b + d], [a, b + d]], np.float32))
    return quads


def outside(
    candidates: list[np.ndarray], lines: Sequence[np.ndarray], shape: tuple[int, int], most: float = 0.0
) -> list[np.ndarray]:
    """The candidates (quadrilaterals in a picture of `shape`) of which `lines` cover less than `most` of the area;
    with `most` 0, those that touch none of them."""
    if not candidates or not len(lines):
        return list(candidates)
    cover = np.zeros(shape, np.uint8)
    for quad in lines:  # one at a time: several polygons in one call are filled by parity
        cv2.fillConvexPoly(cover, np.round(quad).astype(np.int32), 1)
    out = []
    for quad in candidates:
        own = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(own, np.round(quad).astype(np.int32), 1)
        covered = int((own & cover).sum())
        if (covered < most * int(own.sum())) if most else not covered:
            out.append(quad)
    return out
