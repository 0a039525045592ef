"""When an old detection still vouches for a frame, and when a change forces a new look or the privacy screen."""

from __future__ import annotations

import time
from fractions import Fraction

import cv2
import numpy as np
import pytest
from media_support import INK_BGR, InkFinder, WholeLineReader, has_ink, redact_in_order, wait_until, write_card

from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.redact.cover import fill_in_box
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.pool import WardDetectors
from cradle.media.sim import SimCamera, SimSettings

pytestmark = pytest.mark.nodb


@pytest.fixture
def ink():
    # The policies below turn the text-likeness check off: what is masked is what the finder found, through the
    # same WardDetectors (tiles, crops) as the real detector.
    finder = InkFinder()
    with DetectorPool(lambda: WardDetectors(finder), workers=1, backlog=64) as pool:
        yield finder, pool
        finder.unhang.set()


def _looks(redactor: Redactor) -> set:
    """The looks the redactor holds (vouching for cells, or whole-frame ones still ahead of pending frames)."""
    return {d for d in (*redactor._looks.all(), *redactor._wholes) if d is not None}


def _scene(n: int, seed: int = 21, **settings) -> list[np.ndarray]:
    camera = SimCamera(SimSettings(seed=seed, noise=0, shake=0, **settings))
    return [camera.frame(i).image for i in range(n)]


def _shown_ink(out: list[SafeFrame]) -> list[int]:
    return [f.index for f in out if not f.screened and has_ink(f.image)]


def test_card_appearing_in_a_static_scene_is_masked_from_its_first_frame(ink):
    finder, pool = ink
    images = _scene(40)
    images[12:] = [write_card(image, 40, 40) for image in images[12:]]
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out = redact_in_order(redactor, images)
    assert _shown_ink(out) == []
    assert not any(f.screened for f in out)  # masked, not hidden: the picture stays useful
    # The card was found by looking again where the picture moved, not by the (distant) safety schedule.
    assert redactor.counts.motion_detections >= 1
    assert any(h < 480 and w < 640 for h, w in finder.shapes[1:])
    assert all(f.covered[50:80, 50:200].any() for f in out[12:])
    assert finder.found >= 1  # the finder saw the ink through the detectors' crops


def test_card_that_moves_is_masked_where_it_goes_not_where_it_was(ink):
    _finder, pool = ink
    images = _scene(30)
    images[:15] = [write_card(image, 40, 40) for image in images[:15]]
    images[15:] = [write_card(image, 40, 380) for image in images[15:]]
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out = redact_in_order(redactor, images)
    assert _shown_ink(out) == []
    assert not any(f.screened for f in out)


def test_motion_in_a_region_retires_its_old_detection_even_when_the_detector_stalls(ink):
    finder, pool = ink
    images = _scene(24)
    images[12:] = [write_card(image, 40, 40) for image in images[12:]]
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=0.2
    )
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        if i == 12:
            finder.hang.set()  # from the card's first frame on, no detection comes back
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    assert _shown_ink(out) == []
    # Before the card, the old detection still vouched for the unchanged picture; after it, nothing could.
    assert not any(f.screened for f in out[:12])
    assert all(f.screened for f in out[12:])


def test_detection_older_than_the_safety_schedule_and_hold_window_no_longer_vouches(ink):
    _finder, pool = ink
    images = [write_card(image, 40, 40) for image in _scene(22)]
    policy = CameraPolicy(detect_side=0, likeness=False, detect_every=8, hold_frames=6, lookahead_frames=0)
    assert policy.max_age == 14
    redactor = Redactor(policy, pool, blocking=True, deadline_s=5)
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), time.monotonic()))
        if i == 0:
            pool.close()  # the refreshes from frame 8 on are refused; frame 0's look is the last one
    out += redactor.flush()
    assert _shown_ink(out) == []
    # The refresh is retried within the hold window; once frame 0's look is 14 frames old, nothing vouches.
    assert not any(f.screened for f in out[:14])
    assert all(f.screened for f in out[14:])


def test_refused_detection_screens_only_the_frames_that_needed_it(ink):
    _finder, pool = ink
    images = _scene(20)
    images[10:] = [write_card(image, 40, 40) for image in images[10:]]
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        if i == 10:
            pool.close()  # every later detection is refused at once
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    assert _shown_ink(out) == []
    assert not any(f.screened for f in out[:10]) and all(f.screened for f in out[10:])


def test_motion_grid_ignores_shake_and_noise_but_sees_a_new_line_of_ink():
    camera = SimCamera(SimSettings(seed=4, lang="en"))  # default noise, shake, light drift
    grid = MotionGrid(640, 480)
    grid.settle(grid.thumbnail(camera.frame(0).image))
    moved = 0
    for i in range(1, 30):
        changed = grid.changed(grid.thumbnail(camera.frame(i).image))
        moved += int(changed.sum())
        assert changed.sum() <= 4  # at most the monitor's trace or the infant's edge, never the whole picture
    assert moved <= 20
    written = camera.frame(30).image.copy()
    cv2.putText(written, "Doe", (200, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    changed = grid.changed(grid.thumbnail(written))
    assert changed[48 // 32 : 62 // 32 + 1, 200 // 32 : 232 // 32 + 1].any()
    assert changed.sum() <= 8


def test_a_line_filled_in_its_own_box_and_its_cells_cut_there_are_the_whole_frame_pictures_cut():
    """The release rules count a line's pixels in cells a newer look answers for on the line's bounding box only
    (`fill_in_box`, `MotionGrid.window`): exactly the pixels of the whole-frame pictures, lines partly or wholly outside
    the frame included."""
    rng = np.random.default_rng(7)
    for width, height in [(640, 480), (1280, 720), (333, 250)]:
        grid = MotionGrid(width, height)
        for _ in range(150):
            cells = rng.random(grid.shape) < rng.random()
            centre = (rng.uniform(-100, width + 100), rng.uniform(-100, height + 100))
            size = (rng.uniform(1, 400), rng.uniform(1, 80))
            polygon = np.round(cv2.boxPoints((centre, size, rng.uniform(-90, 90)))).astype(np.int32)
            whole = np.zeros((height, width), np.uint8)
            cv2.fillConvexPoly(whole, polygon, 1)
            expected = whole & grid.cell_pixels(cells)
            got = np.zeros((height, width), np.uint8)
            filled = fill_in_box(polygon, (height, width))
            if filled is None:
                assert not whole.any()
                continue
            (x0, y0, x1, y1), own = filled
            assert int(own.sum()) == int(whole.sum())
            got[y0:y1, x0:x1] = own & grid.window(cells, (x0, y0, x1, y1))
            assert np.array_equal(got, expected)


def test_cell_flipping_between_two_looked_at_pictures_reuses_their_detections(ink):
    _finder, pool = ink
    base = _scene(40)
    with_card = [write_card(image, 40, 40) for image in base]
    # Bare, card, bare, card ... (a card lifted and put back, or an edge the shake moves in and out of view).
    images = [with_card[i] if (i // 3) % 2 else base[i] for i in range(30)]
    images += [write_card(base[i], 300, 380) for i in range(30, 40)]  # then a card somewhere new
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        if i == 30:
            # One whole-frame look and one crop when the card first came; none for the flips.
            assert redactor.counts.detections == 2 and redactor.counts.motion_detections == 1
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    assert _shown_ink(out) == []
    assert not any(f.screened for f in out)
    # The new place is looked at: once text is found there, the cells around it that changed by less than the
    # picture's threshold are looked at again too (judged by the contrast around the text, MotionGrid.changed).
    assert 3 <= redactor.counts.detections <= 5
    assert all(f.covered[50:80, 50:200].any() for f in out[:30] if (f.index // 3) % 2)
    assert all(f.covered[390:420, 310:460].any() for f in out[30:])


def test_live_frame_with_its_detections_in_does_not_wait_to_the_deadline_for_a_late_lookahead(ink):
    finder, pool = ink
    now = [0.0]
    images = [write_card(image, 40, 40) for image in _scene(9)]
    # Deadline 8/15 s, look-ahead 4 frames.
    policy = CameraPolicy(detect_side=0, likeness=False, detect_every=8, hold_frames=8)
    redactor = Redactor(policy, pool, fps=15, clock=lambda: now[0])
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        if i == 8:
            assert wait_until(lambda: finder.calls == redactor.counts.detections and not pool._jobs.qsize())
            # The last started detection returns (on a loaded machine that can take longer than any fixed sleep).
            assert wait_until(lambda: finder.returned == finder.calls)
            # ... and its answer reaches the redactor (the pool's thread sets the result a moment later).
            assert wait_until(lambda: all(d.future.done() for d in _looks(redactor)))
            finder.hang.set()  # the whole-frame look at frame 8, frames 4-7's look-ahead, never returns
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), now[0]))
        now[0] += 1 / 15
    now[0] = 7 / 15 + 0.3  # frame 7 is younger than 3/4 of the deadline: it still waits
    out += redactor.poll()
    assert 7 not in [f.index for f in out]
    now[0] = 7 / 15 + 0.45  # past 3/4 of the deadline, before the deadline itself
    out += redactor.poll()
    assert [f.index for f in out] == list(range(8))
    assert not any(f.screened for f in out) and _shown_ink(out) == []


# A dim card whose lines have the card's own grey: the motion grid sees the card's edge move, never its lines.
_CARD_BGR, _FAINT_INK_BGR = (120, 120, 120), (120, 110, 140)


def _slid_card(image: np.ndarray, x: int, y: int) -> np.ndarray:
    out = image.copy()
    card = np.full((110, 200, 3), _CARD_BGR, np.uint8)
    for top in (20, 50, 80):
        card[top : top + 8, 20:180] = _FAINT_INK_BGR
    left, right = max(0, x), min(out.shape[1], x + 200)
    if right > left:
        out[y : y + 110, left:right] = card[:, left - x : right - x]
    return out


def test_card_sliding_in_and_stopping_is_looked_at_whole_once_it_rests():
    # Frames 0-4 are bare; from frame 5 a card slides in from the left edge, 26 px a frame, and stops at frame 14.
    images = [np.full((480, 640, 3), 40, np.uint8) for _ in range(30)]
    images = [
        _slid_card(image, min(60, -200 + 26 * (i - 4)), 200) if i > 4 else image for i, image in enumerate(images)
    ]
    reader = WholeLineReader(_FAINT_INK_BGR)
    with DetectorPool(lambda: reader, workers=1, backlog=64) as pool:
        policy = CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8)
        redactor = Redactor(policy, pool, blocking=True, deadline_s=5)
        out = redact_in_order(redactor, images)
    shown = [f.index for f in out if not f.screened and np.all(f.image == _FAINT_INK_BGR, axis=2).any()]
    # While it slides, each crop around its moving edge cuts its lines: the cells it swept are masked whole until
    # it rests, and then one look sees its lines whole.
    assert not any(f.screened for f in out)
    assert shown == []
    assert all(f.covered[220:290, 80:240].all() for f in out[15:])
    assert not any(f.covered[200:310, 0:30].any() for f in out[15:])  # at rest, the path it came by is shown again
    # The last look is that one, at the card whole: the card at rest is not looked at again and again.
    x0, y0, x1, y1 = reader.regions[-1]
    assert x0 <= 60 and y0 <= 200 and x1 >= 260 and y1 >= 310
    assert redactor.counts.detections == len(reader.regions)


def test_look_at_rest_that_cuts_a_line_an_earlier_look_found_does_not_unmask_it():
    # A card with one long line of faint ink stays put; a bright thing moves below it for a few frames and stops.
    # The look at the thing at rest covers part of the card's line and cannot read it (cut by its crop).
    base = np.full((480, 640, 3), 40, np.uint8)
    base[80:130, 90:420] = _CARD_BGR
    base[100:108, 100:400] = _FAINT_INK_BGR
    images = []
    for i in range(20):
        image = base.copy()
        x = 250 + 24 * min(max(i - 4, 0), 5)  # moves on frames 5-9
        image[150:170, x : x + 20] = 250
        images.append(image)
    reader = WholeLineReader(_FAINT_INK_BGR)
    with DetectorPool(lambda: reader, workers=1, backlog=64) as pool:
        policy = CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8)
        redactor = Redactor(policy, pool, blocking=True, deadline_s=5)
        out = redact_in_order(redactor, images)
    x0, y0, x1, _ = reader.regions[-1]  # the look at rest: it covers the line's cells but cuts the line
    assert 100 < x0 < 400 < x1 and y0 <= 100
    assert not any(f.screened for f in out)
    assert [f.index for f in out if np.all(f.image == _FAINT_INK_BGR, axis=2).any()] == []


def test_mask_of_a_line_taken_away_does_not_linger_in_the_unchanged_cells_its_margin_reached(ink):
    # A thin line of ink near the foot of a row of cells: its grown mask reaches into the row below, which the ink
    # never touches, so that row does not change when the line is taken away at frame 10. A newer look saw the
    # line's whole place empty: the old mask must not stay over that row.
    _finder, pool = ink
    images = [np.full((480, 640, 3), 200, np.uint8) for _ in range(20)]
    for image in images[:10]:
        image[52:62, 100:300] = INK_BGR
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out = redact_in_order(redactor, images)
    assert not any(f.screened for f in out)
    assert _shown_ink(out) == []
    assert all(f.covered[62:70, 100:300].any() for f in out[:10])  # the margin reached the row below
    assert not any(f.covered.any() for f in out[12:])


class _CropBlindFinder(InkFinder):
    """Finds the ink on a whole 640x480 frame only; every crop looks empty to it (a look that misses)."""

    def detect(self, image: np.ndarray) -> list:
        found = super().detect(image)
        return found if image.shape[:2] == (480, 640) else []


def _assert_masked_though_crops_look_empty(images: list[np.ndarray]) -> None:
    """Redacted with looks at changed cells that find nothing, no frame is screened and no ink is shown."""
    finder = _CropBlindFinder()
    with DetectorPool(lambda: WardDetectors(finder), workers=1, backlog=64) as pool:
        policy = CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8)
        out = redact_in_order(Redactor(policy, pool, blocking=True, deadline_s=5), images)
    assert not any(f.screened for f in out)
    assert _shown_ink(out) == []


def test_line_partly_under_a_hand_stays_masked_though_a_newer_look_misses_what_is_left_of_it():
    # From frame 5 a hand and its sleeve cover the line but for its middle (cells 5-6 of row 1): the look at them
    # sees the line's whole place, misses what is left of it, and must not unmask it.
    images = [np.full((480, 640, 3), 200, np.uint8) for _ in range(20)]
    for i, image in enumerate(images):
        image[52:62, 100:300] = INK_BGR
        if i >= 5:
            image[32:96, 64:160] = (150, 120, 90)
            image[32:96, 224:320] = (150, 120, 90)
    _assert_masked_though_crops_look_empty(images)


def test_when_part_of_a_card_moves_its_other_text_cells_and_a_ring_around_them_are_masked_whole(ink):
    # A card's three lines; at frame 6 its top left corner changes (it is lifted and starts to slide). A dim card
    # sliding over ground of its own grey changes too few pixels of its other cells for the grid, so while it moves
    # every text cell joined to the moved ones, and the cells around them, are masked whole.
    _finder, pool = ink
    images = [np.full((480, 640, 3), 200, np.uint8) for _ in range(12)]
    for i, image in enumerate(images):
        for top in (100, 124, 148):
            image[top : top + 10, 100:300] = INK_BGR
        if i == 6:
            image[96:112, 96:140] = (150, 120, 90)
    redactor = Redactor(
        CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8), pool, blocking=True, deadline_s=5
    )
    out = redact_in_order(redactor, images)
    assert _shown_ink(out) == []
    ring = (slice(192, 200), slice(250, 300))  # below the last line, beyond its grown mask
    assert out[6].covered[ring].all()
    assert not any(f.covered[ring].any() for f in out[:6])


def test_glyphs_beside_a_hand_over_the_middle_of_a_line_stay_masked_though_the_look_at_the_hand_misses_them():
    # The hand's edges fall inside cells (x 200-280 of cells 192-288): the cells it changed still show a glyph's
    # width of the line beside it, which the look at those cells does not report. The line is mostly where it was,
    # so it stays masked whole.
    images = [np.full((480, 640, 3), 200, np.uint8) for _ in range(20)]
    for i, image in enumerate(images):
        image[52:62, 100:400] = INK_BGR
        if i >= 5:
            image[40:80, 200:280] = (150, 120, 90)
    _assert_masked_though_crops_look_empty(images)


# A dark room whose lamp-lit half sets a high change threshold, and in the dark half a faint card: its ink has the
# card's own grey, and the card is only a little lighter than the ground.
_DIM_CARD_BGR, _DIM_INK_BGR = (70, 70, 70), (40, 30, 60)


def _dim_room_with_card(x: int, y: int) -> np.ndarray:
    image = np.full((480, 640, 3), 22, np.uint8)
    image[:, 400:] = 230  # the lamp-lit wall
    card = np.full((110, 200, 3), _DIM_CARD_BGR, np.uint8)
    for top in (20, 50, 80):
        card[top : top + 8, 20:180] = _DIM_INK_BGR
    image[y : y + 110, x : x + 200] = card
    return image


def test_faint_card_creeping_in_a_dark_room_below_the_pictures_threshold_stays_masked():
    # The card is looked at whole on frame 0, then creeps left and down 3 px a frame for 24 frames and rests. No frame
    # changes any cell by the picture's own threshold (set by the lamp-lit wall): only the contrast around the card's
    # text shows that it moves, and its lines must not slide out from under the masks of where it was seen.
    path = [(150 - 3 * min(i, 24), 150 + 2 * min(i, 24)) for i in range(34)]
    images = [_dim_room_with_card(x, y) for x, y in path]
    grid = MotionGrid(640, 480)
    for i in range(1, len(images)):
        grid.settle(grid.thumbnail(images[i - 1]))
        assert not grid.changed(grid.thumbnail(images[i])).any()
    reader = WholeLineReader(_DIM_INK_BGR)
    with DetectorPool(lambda: reader, workers=1, backlog=64) as pool:
        policy = CameraPolicy(detect_side=0, likeness=False, detect_every=90, hold_frames=8)
        out = redact_in_order(Redactor(policy, pool, blocking=True, deadline_s=5), images)
    assert not any(f.screened for f in out)
    assert [f.index for f in out if np.all(f.image == _DIM_INK_BGR, axis=2).any()] == []
    assert not out[-1].covered[:, 400:].any()  # the lamp-lit half, where nothing moved, is shown
