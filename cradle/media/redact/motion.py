"""Cheap motion check that decides when text detection should run before its schedule."""

from __future__ import annotations

import cv2
import numpy as np


class MotionDetector:
    """Compares each frame with the one last checked by the detector, on a small blurred thumbnail."""

    def __init__(self, share: float = 0.004, threshold: int = 30) -> None:
        self._share = share
        self._threshold = threshold
        self._reference: np.ndarray | None = None

    @staticmethod
    def _thumbnail(image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(cv2.resize(image, (80, 60), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(grey, (3, 3), 0).astype(np.int16)
        # Subtracting the mean keeps slow light drift from counting as motion; the threshold sits above
        # sensor noise, shake and a monitor trace, well below a hand or a new card entering the picture.
        return grey - int(grey.mean())

    def moved(self, image: np.ndarray) -> bool:
        """True when enough of the picture changed since the last `settle`."""
        if self._reference is None:
            return True
        changed = np.abs(self._thumbnail(image) - self._reference) > self._threshold
        return bool(changed.mean() > self._share)

    def settle(self, image: np.ndarray) -> None:
        """Remember `image` as the picture the detector has just checked."""
        self._reference = self._thumbnail(image)
