"""The simulated bed, leak and session constants that the tests of every tracing stage share."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter
from cradle.media.mark import Variant
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.trace import SegmentReading
from tests.drill import leaked_copy

KEY = bytes(range(32))
SOURCE = "clip-21"
FPS = 15
SECONDS = 16  # 15 readable bits are needed before 2^-n drops below 1e-4
SESSIONS = 10
LEAKER = "session-3"
START = 6  # the leak starts 6 camera frames (0.4 s) into the clip
BED = SimSettings(bed="bed-3", lang="en", seed=21, fps=FPS)


def frames(settings: SimSettings, seconds: int) -> list:
    camera = SimCamera(settings)
    return [camera.frame(i).image for i in range(seconds * FPS)]


def render(settings: SimSettings, images: list) -> list:
    writer = SegmentWriter(KEY, f"clip-{settings.seed}", settings.width, settings.height, settings.fps)
    made = []
    for i, image in enumerate(images):
        frame = SafeFrame(image, i, i * 6000, Fraction(1, 90000), 0.0, False)
        made += writer.write(frame)
    return made + writer.close()


def leak(images, width, height, bitrate, crop, fps=25, gain=1.0, bias=0.0):
    """What a leaker does to frames of this clip (camera rate FPS)."""
    return leaked_copy(images, FPS, width, height, bitrate, crop, fps, gain, bias)


def loader(references):
    return lambda source, index: references[(source, index)]


def readings(bits: list[Variant | None], source: str = SOURCE) -> list[SegmentReading]:
    """Readings whose z says the given bits (None: an erasure)."""
    z = {Variant.A: 9.0, Variant.B: -9.0, None: 1.0}
    return [SegmentReading(source, i, z[bit], float(i), 1.0) for i, bit in enumerate(bits)]


def covered(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A caption band across the lower picture and two stickers: 19 % of the picture, the same in every frame."""
    out = []
    for frame in frames:
        frame = frame.copy()
        h, w = frame.shape[:2]
        frame[int(0.72 * h) : int(0.84 * h), int(0.04 * w) : int(0.96 * w)] //= 4
        cv2.putText(frame, "so tiny!! day 12", (int(0.06 * w), int(0.82 * h)), cv2.FONT_HERSHEY_SIMPLEX, 1.2,
                    (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
        cv2.ellipse(frame, (int(0.3 * w), int(0.3 * h)), (int(0.1 * w), int(0.1 * w)), 0, 0, 360, (40, 200, 250), -1)
        cv2.rectangle(frame, (int(0.62 * w), int(0.2 * h)), (int(0.8 * w), int(0.42 * h)), (250, 60, 90), -1)
        out.append(frame)
    return out
