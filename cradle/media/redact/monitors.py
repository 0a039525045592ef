"""Monitors are text areas: a monitor's picture is masked whole, whatever the text detector finds on it.

A bedside monitor shows the baby's name and number in a header that appears when a nurse admits the baby, in small
light type on a coloured bar, on a dark screen; at night, through sensor noise, no detector we have reads it every
time (measured on the tuning scenes: neither the text detector, at any scale or contrast, nor the likeness check found
a 13 px header under infrared noise). What every such screen has is its shape: a dark, flat, upright rectangle, much
darker than the room around it. Such a rectangle is masked on every frame it is seen on, and for the safety schedule's
span after (a screen found on one frame and missed on the next must not flicker into view). The price is the vital
signs on the monitor, which the family's view does not need. A screen with a light background is not found by this
rule; the detectors and the shown area must cover it.
"""

from __future__ import annotations

import cv2
import numpy as np

# A screen's pixels are darker than this share of the picture's median grey (by day a monitor's black is about a
# tenth of the wall's grey; infrared and dim light scale both alike).
DARK_SHARE = 0.35
# Its outline fills at least this share of its rotated bounding rectangle, turned at most MAX_TILT degrees...
RECTANGULAR = 0.85
MAX_TILT = 20.0
# ... and it covers between these shares of the picture (a monitor, not a dark pixel or the night itself).
MIN_AREA, MAX_AREA = 0.01, 0.35
_CLOSE = np.ones((3, 3), np.uint8)


def find_monitors(thumb: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """Quadrilaterals (4x2 float32, frame pixels) of screen-like dark rectangles on a grey thumbnail of the frame,
    grown by one thumbnail pixel on every side."""
    rows, cols = thumb.shape[:2]
    median = float(np.median(thumb))
    if median < 8:  # a black picture: nothing is darker than the room
        return []
    dark = (thumb < DARK_SHARE * median).astype(np.uint8)
    # Light type and a header bar on the screen are holes in its dark; closing them keeps the screen one piece.
    closed = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, _CLOSE, iterations=2)
    count, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = width / cols, height / rows
    out = []
    for contour in count:
        area = cv2.contourArea(contour)
        if not MIN_AREA * rows * cols <= area <= MAX_AREA * rows * cols:
            continue
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        tilt = min(abs(angle) % 90, 90 - abs(angle) % 90)
        if w * h == 0 or area < RECTANGULAR * w * h or tilt > MAX_TILT:
            continue
        quad = cv2.boxPoints(((cx, cy), (w + 2, h + 2), angle))
        out.append((quad * (sx, sy)).astype(np.float32))
    return out
