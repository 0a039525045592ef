"""Small faint type looked at again at twice its size: stacks of rows of tiny glyphs where the detector found nothing.

At night a card's type of 11-12 px, blurred and under sensor noise, is below what the detector finds at the camera's
own resolution, and the text-likeness check, whose margins keep the infant's outline out, stays silent too (tuning
scene 36702: a six-line card at 1920x1080, 11 px FreeMono, contrast 0.68, glare: 30 % of its PHI masked). Shown the
same card at twice its size, the detector finds every row (0.28 s CPU for a 500 x 300 crop). Looking at every frame
twice as large would cost four times the detection, so only where a card may be: a *stack* of at least STACK_ROWS
rows of faint glyphs (the faint pass's rows, faint.faint_rows, made once for both) no more than SMALL_PX tall, one
above the other at most PITCH row heights apart and overlapping across, most of which no detected line covers; only
in pictures where the faint pass runs at all (dim, night, noisy). A stack the detector finds nothing in at twice the
size is not masked: the detector decides, the stack only says where to look.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from cradle.media.redact.faint import FaintRows
from cradle.media.redact.masks import as_quad

STACK_ROWS, SMALL_PX, PITCH = 3, 9.0, 2.5
# Glyphs a row needs, and the stacks looked at per look (the largest first): a bound on the cost.
ROW_GLYPHS, MOST_STACKS = 3, 3
# A stack's box is grown by this many row heights each way (a card's first and last glyphs may be fainter, and its
# rows chain in pieces).
GROW_ROWS = 6.0
# The least side of the box looked at (the detector needs ground around a card's lines to find them).
MIN_SIDE = 256
SCALE = 2.0


def stacks(faint: FaintRows, found: list[np.ndarray]) -> list[tuple[int, int, int, int]]:
    """Boxes (pixels of the picture `faint` was made of, faint.faint_rows) around stacks of small faint rows most
    of whose centres no line the detector found (`found`, quadrilaterals) covers."""
    blobs = faint.blobs
    rows = []
    for members in faint.rows:
        chain = blobs[members]
        height = float(np.median(chain[:, 3]))
        if len(chain) < ROW_GLYPHS or height > SMALL_PX:
            continue
        x0, y0 = chain[:, 0].min(), chain[:, 1].min()
        x1, y1 = (chain[:, 0] + chain[:, 2]).max(), (chain[:, 1] + chain[:, 3]).max()
        centre = (float(x0 + x1) / 2, float(y0 + y1) / 2)
        covered = any(cv2.pointPolygonTest(q.astype(np.float32), centre, False) >= 0 for q in found)
        rows.append((float(x0), float(y0), float(x1), float(y1), height, covered))
    boxes = []
    for group in _stacked(rows):
        # A stack most of whose rows the detector found is a card it reads: nothing to look at again.
        if len(group) < STACK_ROWS or 2 * sum(row[5] for row in group) >= len(group):
            continue
        pad = GROW_ROWS * float(np.median([row[4] for row in group]))
        boxes.append(
            [
                min(row[0] for row in group) - pad,
                min(row[1] for row in group) - pad,
                max(row[2] for row in group) + pad,
                max(row[3] for row in group) + pad,
            ]
        )
    out = [_clipped(box, faint.smooth.shape) for box in _merged(boxes)]
    out.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return out[:MOST_STACKS]


def _merged(boxes: list[list[float]]) -> list[list[float]]:
    """`boxes` with the overlapping ones joined (a card's rows chain in pieces: its halves make two stacks)."""
    boxes = [list(box) for box in boxes]
    joined = True
    while joined:
        joined = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    joined = True
                    break
            if joined:
                break
    return boxes


def _clipped(box: list[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """`box` grown to at least MIN_SIDE a side around its centre (the detector needs some ground around a card),
    within the picture."""
    height, width = shape[:2]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = max(x1 - x0, MIN_SIDE) / 2, max(y1 - y0, MIN_SIDE) / 2
    return (
        max(0, int(cx - half_w)),
        max(0, int(cy - half_h)),
        min(width, int(cx + half_w) + 1),
        min(height, int(cy + half_h) + 1),
    )


def _stacked(rows: list[tuple[float, float, float, float, float, bool]]) -> list[list[tuple]]:
    """Rows joined, one above the other, where they overlap across and lie at most PITCH row heights apart."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            across = min(a[2], b[2]) - max(a[0], b[0])
            gap = abs((a[1] + a[3]) - (b[1] + b[3])) / 2
            if across > 0 and 0 < gap <= PITCH * max(a[4], b[4]):
                parent[find(i)] = find(j)
    groups: dict[int, list[tuple]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(find(i), []).append(row)
    return list(groups.values())


def enlarged(
    detect: Callable[[np.ndarray], list], image: np.ndarray, box: tuple[int, int, int, int]
) -> list[np.ndarray]:
    """The detector's lines in `box` of `image` shown at SCALE times its size, in `image`'s pixels."""
    x0, y0, x1, y1 = box
    big = cv2.resize(image[y0:y1, x0:x1], None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    return [as_quad(q) / SCALE + np.array([x0, y0], np.float32) for q in detect(big)]
