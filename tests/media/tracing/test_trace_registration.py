"""Registration: a cropped, rescaled copy is brought back onto its reference to a fraction of a pixel, and a block
that shows something else stands out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from trace_support import SOURCE

from cradle.media.mark import luma
from cradle.media.trace.registration import (
    Registration,
    block_correlations,
    estimate_homography,
    hidden_parts,
    misfit,
    plausible,
    refine_homography,
)

pytestmark = pytest.mark.nodb


def _cropped(reference: np.ndarray, dx: int, dy: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The reference cropped by dx, dy on each side and scaled to `size`, with the true suspect → reference map."""
    height, width = reference.shape[:2]
    sx, sy = (width - 2 * dx) / size[0], (height - 2 * dy) / size[1]
    suspect = cv2.resize(reference[dy : height - dy, dx : width - dx], size, interpolation=cv2.INTER_AREA)
    true = np.array([[sx, 0, dx + (sx - 1) / 2], [0, sy, dy + (sy - 1) / 2], [0, 0, 1]])
    return suspect, true


def _moved(homography: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    corners = np.float32([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]])
    return cv2.perspectiveTransform(corners[None], homography)[0]


def test_a_cropped_rescaled_copy_registers_to_a_fraction_of_a_pixel(store):
    references, _ = store
    pairs, truth = [], None
    for index, frame in ((3, 2), (8, 7), (12, 11)):
        reference = references[(SOURCE, index)][frame]
        suspect, truth = _cropped(reference, 12, 9, (400, 300))
        pairs.append((suspect, reference))
    found, inliers = estimate_homography(pairs)
    assert found is not None and inliers >= 12
    refined = refine_homography(pairs, found)
    assert np.abs(_moved(refined, (400, 300)) - _moved(truth, (400, 300))).max() < 0.75
    greys = [(luma(s), luma(r)) for s, r in pairs]
    assert misfit(greys, refined) <= misfit(greys, found)


def test_a_block_that_shows_something_else_correlates_low(store):
    references, _ = store
    reference = references[(SOURCE, 5)][4]
    suspect, truth = _cropped(reference, 12, 9, (400, 300))
    height, width = reference.shape[:2]
    registration = Registration(truth)
    seen, usable = registration(suspect, width, height)
    covered = registration.covered(suspect.shape, width, height)
    same = block_correlations(seen, luma(reference), covered, usable)
    assert len(same) >= 4 and same[0] > 0.8

    changed = suspect.copy()
    # Another picture in one half: each textured block there stands out.
    noise = np.random.default_rng(3).integers(0, 255, (300, 200), dtype=np.uint8)
    changed[:, :200] = noise[..., None] if changed.ndim == 3 else noise
    seen, usable = registration(changed, width, height)
    other = block_correlations(seen, luma(reference), covered, usable)
    assert other[0] < 0.5 and sorted(other)[-1] > 0.8


def _shifted(dx: float, dy: float, scale: float = 1.0) -> np.ndarray:
    return np.array([[scale, 0, dx], [0, scale, dy], [0, 0, 1]], np.float64)


@pytest.mark.parametrize(
    "homography",
    [
        _shifted(0, 0),
        _shifted(-20, 12, 1.5),  # a 480 x 360 copy of a 640 x 480 picture, a little cropped
        np.array([[1.2, 0.05, -10], [-0.04, 1.25, 5], [0.0002, 0.0001, 1]]),  # a screen filmed a little off axis
    ],
)
def test_a_homography_a_re_publisher_makes_is_plausible(homography):
    assert plausible(homography, (480, 360), (640, 480))


@pytest.mark.parametrize(
    "homography, why",
    [
        (np.array([[-1.3, 0, 640], [0, 1.3, 0], [0, 0, 1]]), "mirrored"),
        (np.array([[1.3, 0, 0], [0, 1.3, 0], [0.003, 0, 1]]), "a corner beyond the horizon"),
        (np.array([[1.3, 0, 0], [0, 1.3, 0], [0.0012, 0, 1]]), "a keystone no screen shows"),
        (_shifted(560, 400, 1.3), "the picture mostly outside the reference"),
        (_shifted(0, 0, 0.2), "a thumbnail's worth of the reference"),
    ],
)
def test_an_implausible_homography_is_refused(homography, why):
    assert not plausible(homography, (480, 360), (640, 480)), why


def test_the_misfit_is_what_a_gain_and_offset_fit_leaves_over_the_pixels_the_suspect_reaches(store):
    references, _ = store
    reference = luma(references[(SOURCE, 2)][0])
    suspect, true = _cropped(reference, 20, 15, (480, 360))
    height, width = reference.shape
    for homography in (true, np.array([[1.01, 0.002, 3.0], [0.001, 0.99, -2.0], [0, 0, 1]]) @ true):
        seen = cv2.warpPerspective(suspect, homography, (width, height), flags=cv2.INTER_LINEAR)
        inside = cv2.warpPerspective(np.ones(suspect.shape, np.uint8), homography, (width, height))
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
        x, y = reference[inside].astype(np.float64), seen[inside].astype(np.float64)
        gain, offset = np.polyfit(x, y, 1)
        assert misfit([(suspect, reference)] * 2, homography) == pytest.approx(np.mean((y - gain * x - offset) ** 2))
    # A suspect that lands beside its reference fits nothing, and no descent may settle there.
    away = np.array([[1.0, 0, 2.0 * width], [0, 1.0, 0], [0, 0, 1]]) @ true
    assert misfit([(suspect, reference)], away) == np.inf


def test_a_dark_caption_band_is_hidden_and_the_rest_of_the_picture_is_not(store):
    # Fitted with the band, the gain is so far off that the whole picture differs; fitted again without what the
    # first fit left far off, only the band (and its margin) is hidden.
    references, _ = store
    known = [luma(image) for image in references[(SOURCE, 2)][:3]]
    height, width = known[0].shape
    band = np.zeros((height, width), bool)
    band[int(0.55 * height) : int(0.71 * height), int(0.03 * width) : int(0.97 * width)] = True
    seen = [np.where(band, image // 4, image).astype(np.float32) for image in known]
    hidden = hidden_parts(seen, known, np.ones((height, width), bool), 0.25)
    assert hidden is not None
    assert hidden[band].mean() > 0.8
    beyond = ~cv2.dilate(band.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
    assert hidden[beyond].mean() < 0.01
