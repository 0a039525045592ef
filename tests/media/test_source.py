"""The source keeps frames coming: real ones while the camera works, the privacy screen while it does not."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from cradle.media.frames import Screen, privacy_screen
from cradle.media.source import Backoff, CameraSource, SourceSettings

pytestmark = pytest.mark.nodb


def _take(source: CameraSource, n: int, timeout: float = 10.0):
    frames, end = [], time.monotonic() + timeout
    for frame in source.frames():
        frames.append(frame)
        if len(frames) >= n or time.monotonic() > end:
            break
    return frames


def test_backoff_doubles_up_to_thirty_seconds_and_resets():
    backoff = Backoff()
    delays = [backoff.next() for _ in range(10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 30.0 and delays[-1] == 30.0
    backoff.reset()
    assert backoff.next() == 0.5


def test_dead_camera_gives_privacy_screens_at_the_nominal_rate_and_keeps_reconnecting():
    attempts = []

    def refuse(url):
        attempts.append(time.monotonic())
        raise ConnectionRefusedError("no route to camera")

    source = CameraSource(
        "rtsp://bed-9/stream",
        SourceSettings(fps=20, stall_s=0.2, width=160, height=120),
        opener=refuse,
        backoff=Backoff(first=0.05, cap=0.1),
    )
    try:
        frames = _take(source, 12)
    finally:
        source.close()
    assert len(frames) == 12 and all(f.lost for f in frames)
    # The screen says the camera sends nothing, not that the picture is being checked.
    assert all(np.array_equal(f.image, privacy_screen(160, 120, Screen.NO_PICTURE)) for f in frames)
    assert [f.index for f in frames] == list(range(12))
    # Screens follow the nominal rate, never a burst: the k-th comes no sooner than k frame intervals after the first.
    arrivals = [f.arrived for f in frames]
    assert all(arrivals[k] - arrivals[0] >= k / 20 - 1e-3 for k in range(12))
    assert len(attempts) >= 3


def test_stalled_camera_is_covered_after_one_second_then_recovers():
    resume = threading.Event()

    def stalls(url):
        image = np.full((120, 160, 3), 90, np.uint8)
        for i in range(3):
            yield image, i, Fraction(1, 15)
        resume.wait(timeout=10)
        for i in range(3, 100):
            yield image, i, Fraction(1, 15)
            time.sleep(0.01)

    source = CameraSource("rtsp://bed-2/stream", SourceSettings(fps=15, stall_s=1.0), opener=stalls)
    try:
        frames = []
        gap_started = None
        for frame in source.frames():
            frames.append(frame)
            if frame.lost and gap_started is None:
                gap_started = time.monotonic()
            if frame.lost and sum(f.lost for f in frames) == 5:
                resume.set()
            if not frame.lost and any(f.lost for f in frames):
                break
    finally:
        resume.set()
        source.close()
    assert [f.lost for f in frames[:3]] == [False] * 3
    assert sum(f.lost for f in frames) >= 5
    assert not frames[-1].lost and frames[-1].pts == 3


def test_file_source_ends_with_the_file(bed_video):
    path, _ = bed_video
    source = CameraSource(str(path), SourceSettings(stall_s=5))
    try:
        frames = list(source.frames())
    finally:
        source.close()
    assert len(frames) == 20 and not any(f.lost for f in frames)
    assert frames[0].image.shape == (480, 640, 3)


def test_simulated_camera_url_streams_frames():
    source = CameraSource("sim://bed-3?lang=zh&size=320x240&fps=30")
    try:
        frames = _take(source, 5)
    finally:
        source.close()
    assert len(frames) == 5 and not any(f.lost for f in frames)
    assert frames[0].image.shape == (240, 320, 3)


def _first_decoded(image: np.ndarray, pix_fmt: str, full_range: bool = False):
    """The first frame of `image` encoded as H.264 in `pix_fmt` and decoded again, as a PyAV VideoFrame."""
    import io

    import av

    buffer = io.BytesIO()
    height, width = image.shape[:2]
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = {"qp": "0"}  # lossless: what is left is the colour conversion
        if full_range:
            stream.codec_context.color_range = 2  # JPEG, full range
        video = av.VideoFrame.from_ndarray(image, format="bgr24")
        video.pts = 0
        container.mux(stream.encode(video))
        container.mux(stream.encode(None))
    container = av.open(io.BytesIO(buffer.getvalue()))
    return next(container.decode(video=0))


@pytest.mark.parametrize(
    "pix_fmt, full_range", [("yuv420p", False), ("yuv420p", True), ("yuvj420p", False), ("yuv444p", False)]
)
def test_to_bgr_gives_the_picture_whatever_the_cameras_format(pix_fmt, full_range):
    from cradle.media.source import to_bgr

    rng = np.random.default_rng(3)
    image = np.kron(rng.integers(16, 240, (30, 40, 3)), np.ones((4, 4, 1))).astype(np.uint8)  # 120x160 blocks
    video = _first_decoded(image, pix_fmt, full_range)
    out = to_bgr(video)
    assert out.shape == image.shape and out.dtype == np.uint8
    # Limited-range 4:2:0 is converted by OpenCV, the rest by PyAV; either way it is the picture PyAV gives.
    assert np.abs(out.astype(int) - video.to_ndarray(format="bgr24")).mean() < 2.0
    if pix_fmt == "yuv420p" and not full_range:  # (PyAV's own conversions into the other formats shift colours)
        assert np.abs(out.astype(int) - image).mean() < 3.0
