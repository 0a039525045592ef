"""A pool of detector workers shared by all cameras on a machine."""

from __future__ import annotations

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

    def detect(self, image: np.ndarray, faces: bool, side: int = 0) -> list[Box]:
        """Boxes of text (found on a copy whose longer side is at most `side`, when set) and of faces."""
        height, width = image.shape[:2]
        scale = side / max(height, width) if side else 1.0
        if scale < 1.0:
            small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
            boxes = [
                (
                    int(x0 / scale),
                    int(y0 / scale),
                    min(width, math.ceil(x1 / scale)),
                    min(height, math.ceil(y1 / scale)),
                )
                for x0, y0, x1, y1 in self.text.detect(small)
            ]
        else:
            boxes = list(self.text.detect(image))
        if faces:
            if self.faces is None:
                raise DetectorFailed("face detection was asked for but no face detector is loaded")
            boxes += self.faces.detect(image)
        return boxes


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
        # A short queue: a detection that would wait long is worth less than a privacy screen now.
        self._jobs: queue.Queue = queue.Queue(maxsize=backlog or 4 * self.workers)
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"detector-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, image: np.ndarray, faces: bool = False, side: int = 0) -> Future:
        """A future of the boxes in `image`; it fails at once when the pool is closed or overloaded."""
        future: Future = Future()
        if self._closed:
            future.set_exception(DetectorFailed("the detector pool is closed"))
            return future
        try:
            self._jobs.put_nowait((image, faces, side, future))
        except queue.Full:
            future.set_exception(DetectorFailed("the detector pool is overloaded"))
        return future

    def _work(self) -> None:
        detectors: WardDetectors | None = None
        build_error: BaseException | None = None
        while True:
            job = self._jobs.get()
            if job is None:
                return
            image, faces, side, future = job
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
                future.set_result(detectors.detect(image, faces, side))
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Stop the workers once queued work is done."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> DetectorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
