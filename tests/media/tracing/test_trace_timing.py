"""Time: the suspect's frames are matched to the exact camera frames they show."""

from __future__ import annotations

import numpy as np
import pytest
from trace_support import FPS, SECONDS, SOURCE, START, loader

from cradle.media.fingerprint import SourceMatch
from cradle.media.mark import luma
from cradle.media.trace import locate
from cradle.media.trace.registration import misfit
from cradle.media.trace.timing import _agreed_offset, align

pytestmark = pytest.mark.nodb


def test_the_offset_is_found_within_a_camera_frame(store, leaked):
    references, index = store
    alignment = locate(leaked, 25, index, loader(references))
    assert alignment is not None
    # Within one camera frame of the true 0.4 s (the encoder may hold back one frame of its own).
    assert abs(alignment.offset - START / FPS) <= 1.5 / FPS
    assert alignment.segment_at(2.0)[0] == 2


def test_a_registration_a_pixel_off_still_finds_the_exact_camera_frame(store, leaked):
    """A pixel off, the camera's shake makes a frame two away look closest; the shift the pairs agree on undoes it."""
    references, _ = store
    images = [image for i in range(SECONDS) for image in references[(SOURCE, i)]]
    times = np.arange(len(images)) / FPS
    samples = np.array([40, 180, 330])  # suspect frames (25 fps)
    scale = (640 - 2 * 16) / 480 / 2  # a 5 % crop of 640x480 shown at 480x360, against the half-size reference
    true = np.array([[scale, 0, (16 + scale) / 2 - 0.5], [0, scale, (12 + scale) / 2 - 0.5], [0, 0, 1]])
    off = true + np.array([[0, 0, 1.2], [0, 0, -0.9], [0, 0, 0]])
    wrong = START / FPS + 2 / FPS

    def nearest(offset):
        return np.abs(times[None, :] - (samples / 25 + offset)[:, None]).argmin(axis=1)

    suspects = [leaked[i] for i in samples]
    offset, picked, homography = _agreed_offset(
        suspects, samples / 25, times, images, off, wrong + np.arange(-6, 7) * 0.5 / FPS, wrong, nearest(wrong)
    )
    assert abs(offset - START / FPS) <= 0.5 / FPS and list(picked) == list(nearest(offset))
    pairs = [(luma(s), luma(images[r])) for s, r in zip(suspects, picked, strict=True)]
    assert misfit(pairs, homography) < misfit(pairs, off)


def test_a_piece_of_the_copy_takes_the_registration_of_the_copy_as_it_is(store, leaked):
    # Re-timing picks frames and moves no pixel: a piece aligned with the copy's registration keeps its homography and
    # still finds the camera frame it shows.
    references, index = store
    alignment = locate(leaked, 25, index, loader(references))
    assert alignment is not None
    half = leaked[: len(leaked) // 2]
    again = align(half, 25, [SourceMatch(SOURCE, alignment.offset, 1.0, 1.0)], loader(references), 0.0, alignment)
    assert again is not None
    assert np.array_equal(again.homography, alignment.homography)
    assert abs(again.offset - START / FPS) <= 1.5 / FPS
