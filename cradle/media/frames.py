"""Frames as they move through the pipeline: raw ones stay inside it, only safe ones may leave."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

# (x0, y0, x1, y1) in pixels, x1/y1 exclusive.
Box = tuple[int, int, int, int]


class Screen(StrEnum):
    """Why a privacy screen stands in for the picture; each kind says so on the screen itself, in English and Chinese
    (a picture has no reader's language), so that a kept clip or keepsake is never mistaken for the baby's care."""

    # Redaction could not vouch for the frame in time (fail closed).
    CHECKING = "checking"
    # A nurse paused the camera (privacy mode).
    PAUSED = "paused"
    # The camera sends nothing; the source covers the gap.
    NO_PICTURE = "no_picture"


# White words on black, rendered once from a CJK font by scripts/render_screen_words.py, so the pipeline needs none.
_WORDS = Path(__file__).resolve().parent / "screens"


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
    # Which privacy screen this is, when `screened`: a segment keeps the count, so viewers are told the reason.
    screen: Screen | None = None


@lru_cache(maxsize=8)
def _words(kind: Screen) -> np.ndarray:
    mask = cv2.imread(str(_WORDS / f"{kind.value}.png"), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(f"{_WORDS / kind.value}.png is missing; run scripts/render_screen_words.py.")
    return mask


@lru_cache(maxsize=16)
def _screen(width: int, height: int, kind: Screen) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (92, 70, 38)  # calm dark blue (BGR)
    words = _words(kind)
    # The words take at most 80 % of the width and 40 % of the height, keeping their shape.
    scale = min(0.8 * width / words.shape[1], 0.4 * height / words.shape[0])
    tw, th = max(1, round(words.shape[1] * scale)), max(1, round(words.shape[0] * scale))
    alpha = cv2.resize(words, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255
    x, y = (width - tw) // 2, (height - th) // 2
    box = image[y : y + th, x : x + tw].astype(np.float32)
    image[y : y + th, x : x + tw] = (box * (1 - alpha) + 235 * alpha).astype(np.uint8)
    image.flags.writeable = False
    return image


def privacy_screen(width: int, height: int, kind: Screen = Screen.CHECKING) -> np.ndarray:
    """The picture shown instead of the camera: redaction cannot vouch for a frame (the default), a nurse paused
    the camera, or the camera sends nothing."""
    return _screen(int(width), int(height), Screen(kind))


def screened(frame: Frame) -> SafeFrame:
    """The privacy screen in place of `frame`, keeping its position and timing: "no picture" for a frame the source
    had already lost, "being checked" for one redaction could not vouch for."""
    height, width = frame.image.shape[:2]
    kind = Screen.NO_PICTURE if frame.lost else Screen.CHECKING
    return SafeFrame(
        privacy_screen(width, height, kind), frame.index, frame.pts, frame.time_base, frame.arrived, True, screen=kind
    )
