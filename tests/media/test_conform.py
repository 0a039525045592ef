"""A camera that sends another size or rate than the unit delivers is scaled and retimed, never a crash."""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest
from media_support import FixedText

from cradle.media.conform import Retimer, fit
from cradle.media.hls import decode
from cradle.media.live import CameraPipeline, LiveSettings
from cradle.media.redact import CameraPolicy, DetectorPool
from cradle.media.redact.pool import WardDetectors
from cradle.media.source import CameraSource, SourceSettings

pytestmark = pytest.mark.nodb


def test_a_wide_picture_is_scaled_into_the_stream_with_bars_not_stretched():
    wide = np.full((720, 1280, 3), 200, np.uint8)
    out = fit(wide, 640, 480)
    assert out.shape == (480, 640, 3)
    # 16:9 in 4:3: 640x360 of picture, 60 rows of black above and below.
    assert out[:59].max() == 0 and out[-59:].max() == 0
    assert out[60:420].min() == 200


def test_a_picture_of_the_stream_size_is_left_as_it_is():
    image = np.zeros((480, 640, 3), np.uint8)
    assert fit(image, 640, 480) is image


@pytest.mark.parametrize(("camera_fps", "stream_fps"), [(25, 15), (30, 15), (10, 15), (15, 15)])
def test_retimed_stream_keeps_its_own_rate(camera_fps, stream_fps):
    retimer = Retimer(stream_fps)
    total = sum(retimer.copies(i / camera_fps) for i in range(camera_fps * 4))
    # Four seconds of camera give four seconds of stream, give or take the last frame.
    assert abs(total - 4 * stream_fps) <= 1


def test_a_camera_that_restarts_its_clock_does_not_burst_or_freeze():
    retimer = Retimer(15)
    first = sum(retimer.copies(100 + i / 15) for i in range(15))
    again = [retimer.copies(i / 15) for i in range(15)]  # reconnected: timestamps start at 0
    assert first == 15 and again == [1] * 15


def _frames_of(width: int, height: int, fps: int, seconds: float):
    def opener(url):
        for i in range(int(fps * seconds)):
            image = np.full((height, width, 3), (i * 7) % 200 + 20, np.uint8)
            yield image, i, Fraction(1, fps)

    return opener


def test_a_1080p_25fps_camera_gives_segments_at_the_stream_size_and_rate():
    segments = []
    stop = threading.Event()
    settings = LiveSettings(fps=10, width=160, height=120)
    source = CameraSource(
        "rtsp://bed-1080p/stream",
        SourceSettings(fps=10, width=160, height=120, stall_s=30),
        opener=_frames_of(1920, 1080, 25, 2.0),
    )
    source._finite = True  # the test camera ends: the pipeline closes its last segment
    with DetectorPool(lambda: WardDetectors(FixedText([])), workers=1) as pool:
        pipeline = CameraPipeline(
            "rtsp://bed-1080p/stream",
            "1",
            b"k" * 32,
            pool,
            segments.append,
            policy=CameraPolicy(),
            settings=settings,
            source=source,
        )
        pipeline.run(stop)
    assert segments, "no segment at all"
    frames = [f for s in segments for f in decode(s.a)]
    assert frames[0].shape[:2] == (120, 160)
    # Two seconds of a 25 fps camera: twenty frames of a 10 fps stream (give or take the last).
    assert abs(len(frames) - 20) <= 1
