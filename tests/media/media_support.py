"""Helpers shared by the media tests: a misbehaving detector, raw test videos, polling."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cradle.media.frames import Box, Frame, SafeFrame


class FixedText:
    """Detects the same boxes on every frame, or raises/stalls when told to."""

    def __init__(self, boxes: list[Box]) -> None:
        self.boxes = boxes
        self.fail = False
        self.release = threading.Event()
        self.release.set()
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Box]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("injected detector failure")
        self.release.wait(timeout=30)
        return list(self.boxes)


def write_video(
    path: Path, frames: list[np.ndarray], fps: int = 15, codec: str = "libx264", faststart: bool = False
) -> None:
    """Write raw test input (the tests need unredacted files to feed `cradle redact`)."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.max_b_frames = 0
        stream.time_base = Fraction(1, fps * 1000)
        for i, image in enumerate(frames):
            video = av.VideoFrame.from_ndarray(image, format="bgr24")
            video.pts = i * 1000
            video.time_base = stream.time_base
            container.mux(stream.encode(video))
        container.mux(stream.encode(None))


def redact_in_order(redactor, images: list[np.ndarray]) -> list[SafeFrame]:
    """Every image through `redactor` as frames of a 15 fps camera; the frames come out all and in order."""
    out: list[SafeFrame] = []
    for i, image in enumerate(images):
        out += redactor.push(Frame(image, i, i, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    assert [f.index for f in out] == list(range(len(images)))
    return out


def wait_until(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


INK_BGR = (0, 0, 255)


class InkFinder:
    """A stand-in text detector that finds exactly the pure-red ink the tests write, wherever it is."""

    def __init__(self) -> None:
        self.calls = 0
        self.returned = 0
        self.found = 0  # lines found over all calls
        self.shapes: list[tuple[int, int]] = []
        self.hang = threading.Event()
        self.unhang = threading.Event()

    def detect(self, image: np.ndarray) -> list[Box]:
        import cv2

        self.calls += 1
        self.shapes.append(image.shape[:2])
        if self.hang.is_set():
            self.unhang.wait(timeout=30)
        ink = np.all(image == INK_BGR, axis=2).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(ink)
        found = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:count]]
        self.found += len(found)
        self.returned += 1
        return found


def has_ink(image: np.ndarray) -> bool:
    """True when any pixel of the tests' ink is visible."""
    return bool(np.all(image == INK_BGR, axis=2).any())


def write_card(image: np.ndarray, x: int, y: int, text: str = "MRN 4711 Doe") -> np.ndarray:
    """A copy of `image` with a white card carrying a line of ink at (x, y)."""
    import cv2

    out = image.copy()
    out[y : y + 50, x : x + 170] = (250, 250, 250)
    cv2.putText(out, text, (x + 8, y + 32), cv2.FONT_HERSHEY_SIMPLEX, 0.6, INK_BGR, 1, cv2.LINE_8)
    return out


class WholeLineReader:
    """A stand-in for the pool's detectors that reads only whole lines of one ink: a line cut by the edge of the
    crop it was shown (or of the picture) is not recognised, as a real detector misses a line cut mid-word."""

    def __init__(self, ink: tuple[int, int, int]) -> None:
        self.regions: list[tuple[int, int, int, int] | None] = []
        self.ink = ink

    def detect(self, image, faces, side=0, region=None, likeness=False, known=()) -> list[np.ndarray]:
        import cv2

        self.regions.append(region)
        height, width = image.shape[:2]
        x0, y0, x1, y1 = region or (0, 0, width, height)
        ink = np.all(image[y0:y1, x0:x1] == self.ink, axis=2).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(ink)
        found = []
        for x, y, w, h, _ in stats[1:count]:
            if x == 0 or y == 0 or x + w == x1 - x0 or y + h == y1 - y0:
                continue  # cut by the crop
            quad = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
            found.append(quad + np.array([x0, y0], np.float32))
        return found
