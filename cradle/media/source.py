"""The source stage: decode with PyAV, reconnect with backoff, cover losses with the privacy screen."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cradle.media.camera_url import describe_failure, without_credentials
from cradle.media.frames import Frame, Screen, privacy_screen

log = logging.getLogger(__name__)

# A decoded picture with its timestamp: (BGR image, pts, time base).
Picture = tuple[np.ndarray, int | None, Fraction | None]
StreamOpener = Callable[[str], Iterable[Picture]]

STALL_S = 1.0
BACKOFF_CAP_S = 30.0


class Backoff:
    """Exponential reconnect delays: 0.5 s, 1 s, 2 s ... capped at 30 s; reset after a good frame."""

    def __init__(self, first: float = 0.5, factor: float = 2.0, cap: float = BACKOFF_CAP_S) -> None:
        self._first, self._factor, self._cap = first, factor, cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._cap, self._next * self._factor)
        return delay

    def reset(self) -> None:
        self._next = self._first


# A picture's colour range as FFmpeg tags it: unspecified, or limited ("TV", 16-235), the range of nearly every camera.
_LIMITED_RANGES = (0, 1)


def to_bgr(video) -> np.ndarray:
    """A decoded picture (a PyAV VideoFrame) as a BGR image.

    Limited-range 4:2:0, what H.264 cameras send, is converted by OpenCV from its planes: at 640x480 that takes 0.37
    ms of CPU against swscale's 0.99 (720p: 1.1 against 2.1), for every frame of every camera. Anything else, full
    range included, goes through PyAV's own conversion."""
    if (
        video.format.name == "yuv420p"
        and video.color_range in _LIMITED_RANGES
        and video.width % 2 == 0
        and video.height % 2 == 0
    ):
        return cv2.cvtColor(video.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420)
    return video.to_ndarray(format="bgr24")


# How long connecting to a camera may take, and how long a connected camera may send nothing before it counts as hung
# and is connected again (the picture is covered after STALL_S either way).
OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 1.0


def pyav_pictures(url: str) -> Iterator[Picture]:
    """Decode a camera or file URL with PyAV, keeping each frame's timestamp. A file is played at its own pace, as
    a camera would send it: decoding runs far ahead of real time, and an unpaced file camera replayed fast.

    An RTSP camera is asked for TCP (interleaved), which passes hospital firewalls and loses nothing; a URL ending in
    `#udp` asks for UDP instead. A camera that sends nothing for READ_TIMEOUT_S ends the stream, so that a hung
    camera is connected again at once rather than waited on."""
    import av

    url, _, fragment = url.partition("#")
    options = {"rtsp_transport": "udp" if fragment == "udp" else "tcp"} if url.startswith("rtsp") else {}
    paced = is_file(url)
    with av.open(url, options=options, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 15)
        start, first, count = time.monotonic(), None, 0
        for video in container.decode(stream):
            if paced:
                if first is None and video.pts is not None and video.time_base:
                    first = video.pts
                if first is not None and video.pts is not None and video.time_base:
                    due = start + float((video.pts - first) * video.time_base)
                else:
                    due = start + count / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                count += 1
            yield to_bgr(video), video.pts, video.time_base


def is_file(url: str) -> bool:
    """Whether a camera URL names a local file (played once, at its own pace) rather than a stream."""
    return url.startswith("file:") or ("://" not in url and Path(url).exists())


def sim_pictures(url: str) -> Iterator[Picture]:
    """Frames of a simulated camera at its nominal rate."""
    from cradle.media.sim import SimCamera, settings_from_url

    camera = SimCamera(settings_from_url(url))
    time_base = Fraction(1, 90000)
    start = time.monotonic()
    for sim in camera.frames():
        due = start + sim.index / camera.fps
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        yield sim.image, round(sim.index / camera.fps / time_base), time_base


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """How a source paces itself and when it gives up waiting."""

    fps: float = 15.0
    stall_s: float = STALL_S
    width: int = 640
    height: int = 480


class CameraSource:
    """Frames of one camera: real ones while it works, privacy screens at the nominal rate while not."""

    def __init__(
        self,
        url: str,
        settings: SourceSettings | None = None,
        *,
        opener: StreamOpener | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.settings = settings or SourceSettings()
        if opener is None:
            opener = sim_pictures if url.startswith("sim://") else pyav_pictures
        self._opener = opener
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._queue: queue.Queue = queue.Queue(maxsize=int(self.settings.fps * 2) + 1)
        self._stop = threading.Event()
        # A local file ends; a camera URL is reconnected when it ends or fails.
        self._finite = "://" not in url and Path(url).exists()
        self.reconnects = 0
        # Why the camera gives no picture, in one sentence without its credentials; empty while it does.
        self.failure = ""
        self._reader = threading.Thread(target=self._read, name=f"source {without_credentials(url)}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                for picture in self._opener(self.url):
                    if self._stop.is_set():
                        return
                    # Stamped as it is decoded: a frame's age counts from capture, queueing included.
                    self._put((picture, time.monotonic()))
                    self._backoff.reset()
                    self.failure = ""
                self.failure = describe_failure(None, self.url)
            except Exception as e:  # a dead camera is expected; the consumer shows the privacy screen
                self.failure = describe_failure(e, self.url)
            if self._finite:
                self._put(None)
                return
            self.reconnects += 1
            self._wait(self._backoff.next())

    def _put(self, item: tuple[Picture, float] | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _wait(self, seconds: float) -> None:
        if self._sleep is time.sleep:
            self._stop.wait(seconds)
        else:
            self._sleep(seconds)

    def frames(self) -> Iterator[Frame]:
        """Raw frames, and `lost=True` privacy screens while the camera is gone for over `stall_s`.

        A frame's `arrived` is when it was decoded, not when it left the queue: every deadline downstream (the
        redaction watchdog, the hold window, the latency metric) counts from capture.
        """
        s = self.settings
        interval = 1.0 / s.fps
        index = 0
        size = (s.width, s.height)
        last_real = time.monotonic()
        lost = False
        next_screen = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            timeout = (next_screen - now) if lost else (last_real + s.stall_s - now)
            try:
                picture = self._queue.get(timeout=max(0.0, timeout))
            except queue.Empty:
                now = time.monotonic()
                if not lost:
                    lost = True
                    next_screen = now
                if now >= next_screen:
                    screen = privacy_screen(*size, Screen.NO_PICTURE)
                    pts = None
                    yield Frame(screen, index, pts, None, now, lost=True)
                    index += 1
                    next_screen += interval
                continue
            if picture is None:
                return
            (image, pts, time_base), captured = picture
            size = (image.shape[1], image.shape[0])
            last_real = time.monotonic()
            lost = False
            yield Frame(image, index, pts, time_base, captured)
            index += 1

    def close(self) -> None:
        """Stop reading."""
        self._stop.set()
        self._reader.join(timeout=2)
