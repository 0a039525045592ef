"""Frames as they move through the pipeline: raw ones stay inside it, only safe ones may leave."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import cv2
import numpy as np

# (x0, y0, x1, y1) in pixels, x1/y1 exclusive.
Box = tuple[int, int, int, int]

SCREEN_MESSAGE = "Your baby is being cared for"


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded camera frame (BGR, uint8). It holds raw pixels and must never leave the pipeline."""

    image: np.ndarray
    index: int
    pts: int | None = None
    time_base: Fraction | None = None
    arrived: float = 0.0
    # Set by a source that lost its camera: the image is already the privacy screen.
    lost: bool = False


@dataclass(frozen=True, slots=True)
class SafeFrame:
    """A frame that has passed redaction, or the privacy screen standing in for one."""

    image: np.ndarray
    index: int
    pts: int | None
    time_base: Fraction | None
    arrived: float
    screened: bool
    # Pixels that were masked (None for the privacy screen, where everything was replaced).
    covered: np.ndarray | None = field(default=None, repr=False)


@lru_cache(maxsize=16)
def _screen(width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (92, 70, 38)  # calm dark blue (BGR)
    scale = max(0.3, width / 900)
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(SCREEN_MESSAGE, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(
        image,
        SCREEN_MESSAGE,
        origin,
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (235, 235, 235),
        thickness,
        cv2.LINE_AA,
    )
    image.flags.writeable = False
    return image


def privacy_screen(width: int, height: int) -> np.ndarray:
    """The picture shown instead of the camera whenever redaction cannot vouch for a frame."""
    return _screen(int(width), int(height))


def screened(frame: Frame) -> SafeFrame:
    """The privacy screen in place of `frame`, keeping its position and timing."""
    height, width = frame.image.shape[:2]
    return SafeFrame(privacy_screen(width, height), frame.index, frame.pts, frame.time_base, frame.arrived, True)
