"""The simulated bed, leak and session constants that the tests of every tracing stage share."""

from __future__ import annotations

from fractions import Fraction

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
