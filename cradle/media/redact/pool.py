"""A pool of detector workers shared by all cameras on a machine."""

from __future__ import annotations

import itertools
import math
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from cradle.media.errors import DetectorFailed
from cradle.media.frames import Box


class Detector(Protocol):
    """Anything that finds regions to mask in a BGR frame."""

    def detect(self, image: np.ndarray) -> list[Box]: ...


@dataclass(slots=True)
class WardDetectors:
    """The detectors one worker owns: text always, faces only when a camera asks for them."""

    text: Detector
    faces: Detector | None = None

    def detect(self, image: np.ndarray, faces: bool, side: int = 0, region: Box | None = None) -> list[Box]:
        """Boxes of text and, when `faces`, of faces, in `image`'s pixels.

        Text is found on a copy scaled so that the whole frame's longer side would be `side` (when set), so a crop
        (`region`, a box in `image`) is scaled like the frame it comes from and small text stays findable.
        """
        height, width = image.shape[:2]
        x0, y0, x1, y1 = region or (0, 0, width, height)
        crop = image[y0:y1, x0:x1]
        scale = side / max(height, width) if side else 1.0
        if scale < 1.0:
            cw, ch = x1 - x0, y1 - y0
            size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
            small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            found = [
                (int(a / scale), int(b / scale), min(cw, math.ceil(c / scale)), min(ch, math.ceil(d / scale)))
                for a, b, c, d in self.text.detect(small)
            ]
        else:
            found = list(self.text.detect(crop))
        if faces:
            if self.faces is None:
                raise DetectorFailed("face detection was asked for but no face detector is loaded")
            found += self.faces.detect(crop)
        return [(a + x0, b + y0, c + x0, d + y0) for a, b, c, d in found]


def default_detectors(faces: bool = False) -> Callable[[], WardDetectors]:
    """A factory that loads rapidocr (and CenterFace when `faces`) once per worker."""

    def build() -> WardDetectors:
        from cradle.media.redact.text import TextDetector

        face = None
        if faces:
            from cradle.media.redact.faces import FaceDetector

            face = FaceDetector()
        return WardDetectors(TextDetector(), face)

    return build


_CROP, _WHOLE, _STOP = 0, 1, 2


class DetectorPool:
    """Runs detections on worker threads; onnxruntime releases the GIL, so threads use every core."""

    def __init__(
        self,
        build: Callable[[], WardDetectors] | None = None,
        workers: int | None = None,
        backlog: int | None = None,
    ) -> None:
        self._build = build or default_detectors()
        self.workers = workers or max(1, os.cpu_count() or 1)
        # A short queue: a detection that would wait long is worth less than a privacy screen now. Crops of moved
        # regions go first: they are cheap and frames are screened until they are back, while a whole-frame
        # refresh has the hold window's slack (CameraPolicy.max_age).
        self._jobs: queue.PriorityQueue = queue.PriorityQueue(maxsize=backlog or 4 * self.workers)
        self._order = itertools.count()
        self._closed = False
        self._cameras = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"detector-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stagger(self, period: int) -> int:
        """A phase in [0, period) for the next camera, so cameras started together do not all ask for a
        whole-frame detection on the same frame (a burst that would make the last ones late)."""
        return next(self._cameras) * 7 % period

    def submit(self, image: np.ndarray, faces: bool = False, side: int = 0, region: Box | None = None) -> Future:
        """A future of the boxes in `image` (only in `region` when given); it fails at once when the pool is
        closed or overloaded. `image` is read later by a worker, so the caller must not change it."""
        future: Future = Future()
        if self._closed:
            future.set_exception(DetectorFailed("the detector pool is closed"))
            return future
        try:
            rank = _CROP if region is not None else _WHOLE
            self._jobs.put_nowait((rank, next(self._order), (image, faces, side, region, future)))
        except queue.Full:
            future.set_exception(DetectorFailed("the detector pool is overloaded"))
        return future

    def _work(self) -> None:
        detectors: WardDetectors | None = None
        build_error: BaseException | None = None
        while True:
            _rank, _order, job = self._jobs.get()
            if job is None:
                return
            image, faces, side, region, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if detectors is None and build_error is None:
                    try:
                        detectors = self._build()
                    except Exception as exc:
                        build_error = exc
                if build_error is not None:
                    raise DetectorFailed(f"the detector could not be loaded: {build_error}") from build_error
                future.set_result(detectors.detect(image, faces, side, region))
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Stop the workers once queued work is done."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put((_STOP, next(self._order), None))
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> DetectorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
