"""A line's margin above and below it stops at its paper's edge, so a card lying on the infant keeps her outside it."""

from __future__ import annotations

import cv2
import numpy as np

from cradle.media.redact import CameraPolicy, masks


def _card(infant: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """A card (x 100-340, y 40-148) on the infant's grey, with two lines: the first in the middle of the paper, the
    last 4 px above the card's bottom edge. Gives the noisy grey picture, each line's ink, and the card's edge rows."""
    rng = np.random.default_rng(seed)
    image = np.full((220, 440), infant, np.uint8)
    image[40:148, 100:340] = 190
    cv2.putText(image, "Name Ava Doe", (110, 90), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 60, 2)
    cv2.putText(image, "MRN 42891955", (110, 145), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 60, 2)
    grey = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ink = image < 100
    first, last = ink.copy(), ink.copy()
    first[100:] = False
    last[:100] = False
    return grey, first, last, (40, 148)


def _grown(grey: np.ndarray, ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink)
    reported = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    grown = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(grown, masks.grow(reported, CameraPolicy(), grey), 1)
    return grown.astype(bool)


def test_the_last_lines_margin_below_stops_at_the_card_edge_not_over_the_infant():
    policy = CameraPolicy()
    for seed, infant in enumerate((120, 150)):  # by day a darker grey than the card; dim, nearer it
        grey, _first, last, (_top, bottom) = _card(infant, seed)
        grown = _grown(grey, last)
        assert grown[last].all()  # every pixel of the line's ink ...
        # ... and nothing of the infant beyond the card's edge, but the least margin the policy keeps.
        assert not grown[bottom + policy.margin_px + 1 :].any()


def test_a_line_in_the_middle_of_its_paper_keeps_its_whole_margin():
    policy = CameraPolicy()
    grey, first, _last, _edges = _card(120, 7)
    grown = _grown(grey, first)
    ys, _xs = np.nonzero(first)
    height = int(ys.max() - ys.min())
    side = int(policy.margin_px + policy.margin_ratio * height) - 1
    columns = np.nonzero(first.any(axis=0))[0]
    middle = columns[len(columns) // 2]
    assert grown[ys.min() - side : ys.max() + side + 1, middle].all()
