"""Overload and delay: a frame's age counts from capture, a frame older than the hold window never leaves, and a
camera that falls behind lowers its frame rate (repeating its last safe picture) before it screens."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest
from media_support import FixedText, wait_until

from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.redact.pool import WardDetectors
from cradle.media.redact.rate import MAX_STRIDE, FrameRate
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.source import CameraSource

pytestmark = pytest.mark.nodb

CARD = (400, 240, 620, 420)


def test_source_stamps_frames_when_captured_not_when_taken_from_its_queue():
    picture = (np.zeros((48, 64, 3), np.uint8), 0, Fraction(1, 15))

    def camera(url):
        yield from [picture] * 3
        time.sleep(30)

    source = CameraSource("rtsp://camera", opener=camera)
    try:
        assert wait_until(lambda: source._queue.qsize() == 3)
        time.sleep(0.3)  # the pipeline was busy: the frames waited in the queue
        frames = source.frames()
        first = next(frames)
        assert time.monotonic() - first.arrived >= 0.3
    finally:
        source.close()


def test_live_frame_older_than_the_hold_window_is_screened_even_with_its_detections_in():
    detector = FixedText([CARD])
    detector.release.clear()  # the detection is slow ...
    now = [100.0]
    camera = SimCamera(SimSettings(seed=21, noise=0, shake=0))
    with DetectorPool(lambda: WardDetectors(detector), workers=1) as pool:
        redactor = Redactor(CameraPolicy(detect_every=90, hold_frames=8, lookahead_frames=0), pool, fps=15,
                            clock=lambda: now[0])  # fmt: skip
        out = redactor.push(Frame(camera.frame(0).image, 0, 0, Fraction(1, 15), now[0]))
        now[0] += 1.0  # ... the camera thread was starved for a second: twice the 0.53 s hold window
        detector.release.set()
        assert wait_until(lambda: redactor.counts.detections == detector.calls and not pool._jobs.qsize())
        time.sleep(0.05)
        out += redactor.poll()
    assert len(out) == 1 and out[0].screened and redactor.counts.late == 1


class GatedText:
    """Finds the card, one detection per `let_one()`: the test decides when each look comes back."""

    def __init__(self) -> None:
        self.gate = threading.Semaphore(0)
        self.done = 0

    def detect(self, image):
        self.gate.acquire(timeout=30)
        self.done += 1
        return [CARD]


def test_camera_behind_lowers_its_frame_rate_with_repeats_of_safe_frames_before_it_screens():
    detector = GatedText()
    now = [0.0]
    camera = SimCamera(SimSettings(seed=21, noise=0, shake=0))
    raws = [camera.frame(i).image for i in range(60)]
    rates: list[int] = []
    with DetectorPool(lambda: WardDetectors(detector), workers=1, backlog=64) as pool:
        redactor = Redactor(CameraPolicy(detect_every=1, hold_frames=8, likeness=False), pool, fps=15,
                            clock=lambda: now[0])  # fmt: skip
        redactor.on_rate = rates.append
        out: list[SafeFrame] = []
        for i, image in enumerate(raws):
            out += redactor.push(Frame(image, i, i, Fraction(1, 15), now[0]))
            # The first 30 frames' looks come back 0.45 s after capture, near the end of the 0.53 s hold window;
            # then the pool keeps up again.
            now[0] += 0.45 if i < 30 else 1 / 15
            for _ in range(redactor.counts.detections - detector.done):
                detector.gate.release()
            assert wait_until(lambda: detector.done >= redactor.counts.detections and not pool._jobs.qsize())
            time.sleep(0.01)
            out += redactor.poll()
        now[0] += 5
        out += redactor.flush()
    assert [f.index for f in out] == list(range(60))
    assert rates and rates[0] == 2 and max(rates) <= MAX_STRIDE
    assert redactor.counts.repeated > 0
    x0, y0, x1, y1 = CARD
    for frame in out:
        raw = raws[frame.index][y0:y1, x0:x1]
        assert frame.screened or not np.array_equal(frame.image[y0:y1, x0:x1], raw), "a raw card left redaction"
    # Repeats show an earlier safe picture, and fewer frames were screened than repeated.
    masked = {f.image.tobytes() for f in out if not f.screened}
    assert all(f.image.tobytes() in masked for f in out if not f.screened)
    assert redactor.counts.screened < redactor.counts.repeated


def test_frame_rate_steps_down_under_pressure_and_back_up_after_calm():
    rate = FrameRate()
    assert rate.press(0.0) and rate.stride == 2
    assert not rate.press(0.1)  # at most one step per half second
    assert rate.press(0.6) and rate.stride == 4
    assert not rate.press(2.0) and rate.stride == MAX_STRIDE
    assert [rate.skip(i) for i in range(4)] == [False, True, True, True]
    assert not rate.relax(4.0)  # not calm long enough
    assert rate.relax(5.1) and rate.stride == 2
    assert rate.relax(8.2) and rate.stride == 1 and not rate.skip(1)


class Counted:
    """The ward's detectors finding the card, counting the looks they finished."""

    def __init__(self) -> None:
        self.inner = WardDetectors(FixedText([CARD]))
        self.done = 0

    def detect(self, *args, **kwargs):
        try:
            return self.inner.detect(*args, **kwargs)
        finally:
            self.done += 1


def test_a_camera_behind_its_queue_repeats_safe_frames_before_it_screens_and_catches_up_without_looks():
    looks = Counted()
    now = [0.0]
    camera = SimCamera(SimSettings(seed=21, noise=0, shake=0))
    raws = [camera.frame(i).image for i in range(75)]
    # How long each frame waited in the source's queue before the camera thread took it: on time, then the thread
    # starved, falling behind by 40 ms a frame up to 1.6 s (three hold windows), then on time again (its queue
    # drained).
    waited = [0.0] * 15 + [min(1.6, 0.04 * n) for n in range(1, 46)] + [0.0] * 15
    with DetectorPool(lambda: looks, workers=1, backlog=64) as pool:
        redactor = Redactor(CameraPolicy(detect_every=90, hold_frames=8, likeness=False), pool, fps=15,
                            clock=lambda: now[0])  # fmt: skip
        out: list[SafeFrame] = []
        calls: dict[int, int] = {}
        for i, image in enumerate(raws):
            out += redactor.push(Frame(image, i, i, Fraction(1, 15), now[0] - waited[i]))
            assert wait_until(lambda: redactor.counts.detections == looks.done)
            out += redactor.poll()
            calls[i] = looks.done
            now[0] += 1 / 15
        now[0] += 5
        out += redactor.flush()
    assert [f.index for f in out] == list(range(75))
    x0, y0, x1, y1 = CARD
    for frame in out:
        assert frame.screened or not np.array_equal(frame.image[y0:y1, x0:x1], raws[frame.index][y0:y1, x0:x1])
    hold = redactor.deadline_s
    screened = [f.index for f in out if f.screened]
    repeats = [f.index for k, f in enumerate(out) if not f.screened and any(f.image is g.image for g in out[:k])]
    # The rate went down (repeats of the last safe picture) before any frame was screened, and only frames too old
    # to be redacted in time were screened, once the picture they would repeat was old too.
    assert repeats and screened and repeats[0] < screened[0]
    assert all(waited[i] > hold for i in screened)
    assert [i for i in repeats if waited[i] > hold]
    # Frames older than the hold window when taken cost no look ...
    too_old = [i for i in range(1, 75) if waited[i] > hold]
    assert too_old and all(calls[i] == calls[i - 1] for i in too_old)
    # ... and once the queue is drained the picture is redacted again, no frame older than the hold window.
    assert not any(f.screened for f in out[-8:])
