"""Framing: the picture's box on a larger canvas, a crop put back where it was, and a screen filmed at a slant are found
from the frames alone, and each framing brings the camera's picture back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cradle.media.trace.framing import Framing, _turns, boxes, crops, moving_box, quads

pytestmark = pytest.mark.nodb


def _picture(seed: int = 3, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A textured grey picture: smooth shapes with a little grain, like a ward scene at this size."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.integers(40, 220, (6, 8)).astype(np.uint8), size, interpolation=cv2.INTER_CUBIC)
    return cv2.add(coarse, rng.integers(0, 12, coarse.shape).astype(np.uint8))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = (cv2.resize(x, (64, 48), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() for x in (a, b))
    return float(np.corrcoef(a, b)[0, 1])


def test_the_pictures_box_on_a_larger_canvas_is_found():
    # A 4:3 picture on a 16:9 post over a solid background, placed off centre: (0.25, 0.15) to (0.75, 0.85).
    frames = []
    for n in range(6):
        canvas = np.full((360, 640), 30, np.uint8)
        canvas[54:306, 160:480] = cv2.resize(_picture(n), (320, 252), interpolation=cv2.INTER_AREA)
        frames.append(canvas)
    found = boxes(frames)
    assert found, "no box found around the picture"
    assert max(abs(a - b) for a, b in zip(found[0], (0.25, 0.15, 0.75, 0.85), strict=True)) < 0.02
    assert _correlation(Framing(found[0]).apply(frames[0]), _picture(0)) > 0.95


def test_a_plain_picture_has_no_box_inside_it():
    frames = [_picture(n) for n in range(4)]
    # Whatever lines the picture's own shapes make, no box is taken for the picture's own edges.
    assert all(box != (0.0, 0.0, 1.0, 1.0) for box in boxes(frames))


def test_a_crop_is_put_back_where_it_was_in_the_picture():
    picture = _picture()
    # The copy keeps the left 72 % and the middle 85 % of the height.
    copy = picture[18:222, :230]
    wanted = next(box for box in crops() if abs(box[0]) < 1e-9 and box[1] < 0 and abs(box[2] - 1 / 0.72) < 1e-9)
    framing = Framing(wanted)
    assert framing.pads
    shown = framing.apply(copy)
    assert abs(shown.shape[1] - 320) <= 1 and abs(shown.shape[0] - 240) <= 1
    # The kept part sits where it was; the rest is flat grey, which tells the search nothing either way.
    assert np.array_equal(shown[18:222, :230], copy)
    assert np.ptp(shown[:, 232:]) == 0 and np.ptp(shown[:17]) == 0


def test_a_screen_filmed_at_a_slant_is_found_and_straightened():
    picture = _picture(size=(400, 300))
    corners = np.array([[0.22, 0.12], [0.80, 0.18], [0.76, 0.84], [0.18, 0.88]], np.float32)
    size = (640, 480)
    outline = (corners * size).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(np.array([[0, 0], [400, 0], [400, 300], [0, 300]], np.float32), outline)
    frames = []
    for n in range(4):
        shown = cv2.warpPerspective(picture, matrix, size, borderValue=10)
        frames.append(cv2.add(shown, np.full_like(shown, n)))
    found = quads(frames)
    assert found, "no slanted outline found"
    best = np.array(found[0]).reshape(4, 2)
    assert np.abs(best - corners).max() < 0.02
    assert _correlation(Framing(quad=found[0]).apply(frames[0]), picture) > 0.95


def test_no_slanted_outline_in_a_plain_picture_or_no_frames():
    assert quads([]) == [] and boxes([]) == []
    flat = [np.full((240, 320), 128, np.uint8)] * 3
    assert quads(flat) == []


def _moving_picture(n: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """The same scene each frame, shaken by a pixel or two and with a bright patch drifting across it."""
    picture = _picture(3, (size[0] + 4, size[1] + 4))
    cv2.circle(picture, (20 + 12 * n, size[1] // 2), 18, 250, -1)
    dx, dy = (n * 7) % 4, (n * 5) % 4
    return np.ascontiguousarray(picture[dy : dy + size[1], dx : dx + size[0]])


def test_a_picture_on_a_fine_checked_background_is_boxed_by_what_moves():
    # A checked background's own lines run the full frame and outnumber the picture's edges; only the picture changes.
    ys, xs = np.mgrid[0:360, 0:360]
    checked = np.where((xs // 14 + ys // 14) % 2, 60, 190).astype(np.uint8)
    frames = []
    for n in range(8):
        canvas = checked.copy()
        canvas[120:357, 37:353] = _moving_picture(n, (316, 237))
        frames.append(canvas)
    wanted = (37 / 360, 120 / 360, 353 / 360, 357 / 360)
    found = moving_box(frames)
    assert found is not None
    assert max(abs(a - b) for a, b in zip(found, wanted, strict=True)) < 0.03
    assert max(abs(a - b) for a, b in zip(boxes(frames)[0], wanted, strict=True)) < 0.03


def test_no_box_from_motion_when_all_or_nothing_moves():
    assert moving_box([np.full((240, 320), 90, np.uint8)] * 4) is None
    # The whole frame changes (a plain copy, or a picture over its own blurred enlargement): no box inside it.
    assert moving_box([_moving_picture(n) for n in range(6)]) is None
    assert moving_box([_picture(n) for n in range(6)]) is None


def test_a_wide_box_is_tried_upright_and_a_tall_one_turned_as_well():
    # A 4:3 picture in a box of a 9:16 frame: upright or upside down only.
    assert _turns((0.1, 0.4, 0.9, 0.6), 360, 640) == (0, 2)
    # The same picture turned a quarter fills a tall box; a portrait crop of it upright may too.
    assert set(_turns((0.1, 0.1, 0.9, 0.9), 360, 640)) == {0, 1, 3}
    assert _turns((0.0, 0.0, 1.0, 1.0), 640, 480) == (0, 1, 2, 3)
