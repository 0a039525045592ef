"""Makes any camera's pictures fit the stream the unit delivers: its size (scaled, letterboxed) and its rate.

A camera is set up to send, say, 640x480 at 15 frames a second, but the one on the wall may send 1080p at 25: the
stream does not change size or rate mid-way, so each picture is scaled to fit (keeping its shape, black bars where
the shapes differ) and pictures are dropped or repeated so that the stream keeps its own rate.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The picture scaled to `width` x `height`, its shape kept: black bars fill what it does not cover."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (tw, th), interpolation=interpolation)
    if (tw, th) == (width, height):
        return scaled
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - tw) // 2, (height - th) // 2
    canvas[y : y + th, x : x + tw] = scaled
    return canvas


class Retimer:
    """How many times each picture goes into a stream of `fps` frames a second: 0 (dropped, the camera is faster),
    1, or more (repeated, the camera is slower), by the picture's own time.

    A clock that jumps (a camera that reconnects and restarts its timestamps, or a long gap) starts afresh rather
    than making up for the gap in a burst: a covered gap is the source's privacy screen's business.
    """

    def __init__(self, fps: float, max_gap_s: float = 1.0) -> None:
        self.fps = fps
        self._max_gap = max_gap_s
        self._origin: float | None = None
        self._last: float | None = None
        self._emitted = 0

    def reset(self) -> None:
        self._origin = self._last = None
        self._emitted = 0

    def copies(self, at: float) -> int:
        """The number of stream frames the picture taken at `at` (seconds, any origin) fills."""
        if self._origin is None or self._last is None or at < self._last or at - self._last > self._max_gap:
            self._origin, self._emitted = at - self._emitted / self.fps, self._emitted
        self._last = at
        due = math.floor((at - self._origin) * self.fps + 0.5) + 1  # stream slots up to this moment
        count = max(0, due - self._emitted)
        self._emitted += count
        return count
