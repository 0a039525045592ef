"""The text-likeness check's second look, for faint type: rows of glyphs only a little darker than their paper.

The check's own margin (likeness.py: at least INK_MARGIN grey levels, and NOISE_MARGINS times the noise measured
before any blur) keeps a night view's sensor noise from forming "glyphs", and with it a faded label in a dim or
infrared picture: its ink lies 10-20 levels from its paper, under a noise of 4-9 (measured on tuning scenes 20050,
20084, 30021, 30066, 30102, which neither the detector nor the check found). Blurred more (FAINT_SIGMA), the noise
falls to a third and the ink to about two thirds, so the ink stands FAINT_MARGINS times the blurred noise clear.

At that margin the infant's outline and her arm at night break into rows of "glyphs" too, so a faint row must also
be what a label is: at least FAINT_CHAIN glyphs on one line (specks under SPECK of the row's height, a label's border
or a dot, left out), FAINT_HEIGHT px tall and no wider than WIDE heights (the slivers along an infant's edge are
long), with paper between them (GAP_SHARE: not a bar cut by noise), the same paper above and below the row
(PAPER_SHARE: not the two sides of an edge), and ink INK_DEPTH margins beyond that paper. Rows that touch one the
check's own margin found, or a detected line, add nothing (they were how a faint row grew over the infant beside a
card). Labels found whole on the first frame by the detector and the check, without -> with this look (scenes of
the tuning seeds with stickers): 30000-30167 163 -> 165 of 171, 40000-40199 175 -> 176 of 180, and, looked at
after the rules were chosen, 50000-50245 (dim, night, faded or glare only) 174 -> 174 of 183; the share of the
infant under the check's rows stayed 0 % on all three (without the label rules: 0.3 %, up to 18 % of one infant).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from cradle.media.redact.likeness import find_blobs, glyph_rows, grey_at, outside

FAINT_SIGMA = 1.0
FAINT_MARGINS, FAINT_FLOOR = 3.5, 5.0
FAINT_CHAIN, FAINT_HEIGHT, SPECK, WIDE = 3, 8, 0.5, 1.5
GAP_SHARE = 0.6
PAPER_SHARE, INK_DEPTH = 2.0, 1.5


def blurred_noise(grey: np.ndarray) -> float:
    """The noise left in a blurred picture (standard deviation, grey levels): the robust spread of what a 5 px box
    blur removes, in floating point (a blurred picture's noise is below one grey level)."""
    levels = grey.astype(np.float32)
    return 1.4826 * float(np.median(np.abs(levels - cv2.blur(levels, (5, 5)))[::2, ::2]))


@dataclass(slots=True, frozen=True)
class FaintRows:
    """A picture's rows of faint dark glyphs: the blurred grey, the faint margin, the glyphs and each row's members."""

    smooth: np.ndarray
    margin: float
    blobs: np.ndarray
    rows: list[np.ndarray]


def faint_rows(image: np.ndarray, margin: float) -> FaintRows | None:
    """The rows of dark glyphs at the faint margin; None where that margin is not below the check's `margin`
    (likeness.ink_margin: the check itself sees as much)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    smooth = cv2.GaussianBlur(grey, (0, 0), FAINT_SIGMA)
    faint = max(FAINT_FLOOR, FAINT_MARGINS * blurred_noise(smooth))
    if faint >= margin:
        return None
    # Dark ink only: faint light type on a dark ground is a monitor's, masked whole (monitors.py), and light ink
    # found no label more on tuning scenes 30000-30167 and 40000-40199 for a third more of this look's cost.
    blobs = find_blobs(smooth, True, faint)
    return FaintRows(smooth, faint, blobs, glyph_rows(smooth, blobs, True, faint))


def faint_like(
    image: np.ndarray, found: list[np.ndarray], margin: float, rows: FaintRows | None = None
) -> list[np.ndarray]:
    """Quadrilaterals (4x2, pixels of `image`) around faint rows of dark glyphs that touch none of `found` (the
    rows the check found at its own `margin`, likeness.ink_margin); none where that margin is already as low.
    `rows`: faint_rows(image, margin), when already made."""
    rows = rows if rows is not None else faint_rows(image, margin)
    if rows is None:
        return []
    smooth, faint, blobs = rows.smooth, rows.margin, rows.blobs
    mean = cv2.blur(smooth.astype(np.float32), (31, 31))
    quads = []
    for members in rows.rows:
        chain = blobs[members]
        # Specks beside the glyphs (a label's border, a dot) would make the row look like several lines.
        chain = chain[chain[:, 3] >= SPECK * np.median(chain[:, 3])]
        if len(chain) < FAINT_CHAIN or np.median(chain[:, 3]) < FAINT_HEIGHT:
            continue
        if np.median(chain[:, 2] / chain[:, 3]) > WIDE:
            continue
        x, y, w, h = chain[:, 0], chain[:, 1], chain[:, 2], chain[:, 3]
        corners = [np.stack(p, 1) for p in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
        rect = cv2.minAreaRect(np.concatenate(corners).astype(np.float32))
        if min(rect[1]) > 2.5 * float(np.median(h)):
            continue  # several lines: a card, the detector's and the check's own work
        if _chopped(smooth, mean, chain, faint) or not _on_paper(smooth, chain, rect, faint):
            continue
        quads.append(cv2.boxPoints(rect))
    return outside(quads, found, smooth.shape)


def _chopped(grey: np.ndarray, mean: np.ndarray, chain: np.ndarray, margin: float) -> bool:
    """True when a gap between neighbouring glyphs is itself nearly ink: a bar (the infant's arm at night) that
    noise cut into pieces, not glyphs with paper between them."""
    chain = chain[np.argsort(chain[:, 0])]
    for a, b in itertools.pairwise(chain):
        gx0, gx1 = int(a[0] + a[2]), int(b[0])
        if gx1 <= gx0:
            continue
        gy0, gy1 = int(min(a[1], b[1])), int(max(a[1] + a[3], b[1] + b[3]))
        depth = mean[gy0:gy1, gx0:gx1] - grey[gy0:gy1, gx0:gx1]
        if float(np.median(depth)) >= GAP_SHARE * margin:
            return True
    return False


def _on_paper(grey: np.ndarray, chain: np.ndarray, rect: tuple, margin: float) -> bool:
    """True when the paper in a strip just above the row and in one just below it is the same (within
    PAPER_SHARE of the margin: not the two sides of an object's edge) and lies INK_DEPTH margins beyond the ink."""
    (cx, cy), (rw, rh), angle = rect
    if rw < rh:
        rw, rh, angle = rh, rw, angle + 90
    along = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    across = np.array([-along[1], along[0]])
    size = float(np.median(chain[:, 3]))
    steps = np.linspace(-rw / 2, rw / 2, 16)
    levels = []
    for side in (-1, 1):
        offsets = side * (rh / 2 + np.array([0.15, 0.3, 0.45]) * size)
        points = np.array([cx, cy]) + steps[:, None, None] * along + offsets[None, :, None] * across
        points = points.reshape(-1, 2)
        inside = (points[:, 0] >= 0) & (points[:, 0] < grey.shape[1]) & (points[:, 1] >= 0)
        inside &= points[:, 1] < grey.shape[0]
        if inside.sum() < len(points) // 2:
            return True  # at the picture's edge: fail towards masking
        points = points[inside].astype(int)
        levels.append(float(np.percentile(grey[points[:, 1], points[:, 0]], 75)))
    x, y, w, h = chain[:, 0], chain[:, 1], chain[:, 2], chain[:, 3]
    grid = (np.arange(8) + 0.5) / 8
    samples = grey_at(grey, x[:, None] + grid * w[:, None], y[:, None] + grid * h[:, None])
    depth = min(levels) - float(np.percentile(samples, 10))
    return abs(levels[0] - levels[1]) <= PAPER_SHARE * margin and depth >= INK_DEPTH * margin
