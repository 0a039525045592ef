"""The forensic mark: a keyed, invisible luma pattern that tells which of two variants of a mark unit a viewer got.

Each 1 s segment is cut into MARK_UNITS units of half a second, and each unit exists twice: luma + alpha*P (variant A)
and luma - alpha*P (variant B), where P is a smooth pattern derived from a secret key, the camera or clip, the segment
index and the unit. Every unit is its own closed GOP, so a viewer's segment is the concatenation of the unit variants
their session picks: a leaked copy spells out two bits per second for the encoding work of two variants. Segments made
before units (one unit of 1 s, patterns labelled without a unit) still read and trace as they always did. Detection
is informed: the unmarked reference is subtracted and what is left is correlated with P
(Cox et al. 1997, "Secure spread spectrum watermarking for multimedia").
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import lru_cache
from typing import Protocol

import cv2
import numpy as np

from cradle.media.frames import SafeFrame

# The keyed grid before upscaling: coarse enough to survive downscaling to 240p and heavy compression, fine enough to
# carry 1,200 independent chips so that one segment's correlation stands well clear of chance.
GRID_COLUMNS, GRID_ROWS = 40, 30
# In 8-bit luma levels; 0.5 / 0.75 / 1.0 give about 54 / 52 / 51 dB (bench/marks.py), invisible up to about 2. A half
# second unit at 1.0 reads about as clearly as a whole second did at 0.75 (360p at 300 kbit/s: z 5-8 against 5-7).
ALPHA = 1.0
# Share of a segment over which the mark fades in and out, so that the switch between +P and −P of the next segment's
# pattern never shows as a step.
RAMP_SHARE = 0.2
# Below this |z| a segment is an erasure, not a bit: chance alone reaches 4 in about 1 of 16,000 segments.
ERASURE_Z = 4.0
MIN_KEY_BYTES = 16
# What a copy put over the picture: a residual pixel beyond OVERLAY_SIGMAS robust deviations of the frame's residual
# (and at least OVERLAY_FLOOR levels; the mark is about one) is text or graphics, not coding noise, and is left out
# with OVERLAY_MARGIN pixels around it (anti-aliased edges, a band's shading).
OVERLAY_SIGMAS = 6.0
OVERLAY_FLOOR = 12.0
OVERLAY_MARGIN = 9
# A copy whose colours were filtered (sepia, a tint, a channel mix, greyscale made from one channel) has a luma that
# is a mix of the reference's three channels, not a function of the reference's luma: fitted on luma alone, the
# picture's colours stay in the residual, far above the mark, and no unit reads. The copy is fitted on a mix of the
# reference's channels, or on its luma or that mix through a tone curve of TONE_BINS quantiles (clipped or bent tones),
# when that leaves at most this share of the luma fit's residual variance (a plain copy keeps the luma fit, whose one
# gain and offset take the least from the mark). See _fit_basis.
COLOUR_FIT_SHARE = 0.8
TONE_BINS = 24
FIT_STEP = 4  # (a 320x240 reference: 4,800 pixels for four coefficients or 24 tones)
# Mark units per 1 s segment: two bits per second of video, so that a 7 s clip carries the 14 bits that "identified"
# needs (2^-14 < 1e-4). Each unit is a GOP of its own; bench/marks.py prints what the extra keyframe costs.
MARK_UNITS = 2


class Variant(IntEnum):
    """Which sign of the pattern a segment carries; the variant is the bit it gives away."""

    A = 0  # luma + αP
    B = 1  # luma − αP

    @property
    def sign(self) -> int:
        return 1 if self is Variant.A else -1


def grid(key: bytes, source_id: str, segment: int, unit: int | None = None) -> np.ndarray:
    """The keyed ±1 grid (rows x columns, float32) behind the pattern of one segment of one camera or clip, or of one
    of its mark units (unit None: a segment marked whole, as before units)."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the mark key must be at least {MIN_KEY_BYTES} random bytes")
    if not source_id or segment < 0 or (unit is not None and unit < 0):
        raise ValueError("a mark needs a camera or clip id and a segment index (and unit) of 0 or more")
    # The segment and unit are the last fields and have no '|', so no two (source, segment, unit) share a label.
    label = f"cradle.mark.v1|{source_id}|{segment}" if unit is None else f"cradle.mark.v2|{source_id}|{segment}|{unit}"
    seed = hmac.new(key, label.encode(), hashlib.sha256).digest()
    chips = GRID_COLUMNS * GRID_ROWS
    blocks = math.ceil(chips / 256)
    stream = b"".join(hmac.new(seed, i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks))
    bits = np.unpackbits(np.frombuffer(stream, np.uint8))[:chips]
    return (bits.astype(np.float32) * 2 - 1).reshape(GRID_ROWS, GRID_COLUMNS)


def upscale(chips: np.ndarray, width: int, height: int) -> np.ndarray:
    """A grid smoothly upscaled (bicubic) to a frame of width x height."""
    return cv2.resize(chips, (width, height), interpolation=cv2.INTER_CUBIC)


def pattern(key: bytes, source_id: str, segment: int, width: int, height: int, unit: int | None = None) -> np.ndarray:
    """P for one segment (or unit) at one frame size (float32, height x width, roughly unit amplitude, zero mean)."""
    return upscale(grid(key, source_id, segment, unit), width, height)


def unit_bounds(frames: int, units: int) -> list[tuple[int, int]]:
    """The frames [start, end) of each mark unit of a segment of `frames` frames cut into `units` (at most one unit
    per frame; a single unit is the whole segment)."""
    units = max(1, min(units, frames))
    cuts = [round(u * frames / units) for u in range(units + 1)]
    return list(itertools.pairwise(cuts))


def fade(frames: int) -> np.ndarray:
    """Per-frame weight of the mark within a segment: 1 in the middle, a raised-cosine ramp at both ends."""
    weights = np.ones(frames, np.float32)
    ramp = min(frames // 2, max(1, round(frames * RAMP_SHARE)))
    if ramp:
        rise = np.sin(np.pi / 2 * (np.arange(ramp) + 0.5) / ramp) ** 2
        weights[:ramp] = rise
        weights[frames - ramp :] = rise[::-1]
    return weights


class SegmentMark:
    """The mark of one segment, ready to apply frame by frame to BGR images or to Y planes of the same size.

    alpha is in 8-bit levels of whatever is marked. Adding the same amount to B, G and R moves luma by that amount and
    leaves both colour differences alone, so marking BGR needs no colour conversion.
    """

    def __init__(
        self,
        key: bytes,
        source_id: str,
        segment: int,
        frames: int,
        width: int,
        height: int,
        alpha: float = ALPHA,
        unit: int | None = None,
    ) -> None:
        self.pattern = pattern(key, source_id, segment, width, height, unit)
        self.weights = fade(frames)
        self.alpha = alpha
        # Per frame weight and channel count: the pattern's positive and negative parts, whole levels. Variant B
        # adds what A subtracts, so both variants of a unit share them; a unit has only three distinct weights.
        self._offsets: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}

    def _offset(self, position: int, variant: Variant, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """What to add and what to subtract (uint8) for the `position`-th frame of `variant`."""
        weight = float(self.weights[position])
        cache = (weight, channels)
        if cache not in self._offsets:
            # Rounded once (to nearest, saturating at 0: a negative part is the other sign's), so every channel
            # moves by the same whole level; split into the parts to add and to subtract because OpenCV's saturating
            # uint8 arithmetic is several times faster than widening. One OpenCV pass each (P·scale, rounded and
            # saturated to uint8), not numpy's five.
            scale = self.alpha * weight
            plus = cv2.addWeighted(self.pattern, scale, self.pattern, 0.0, 0.0, dtype=cv2.CV_8U)
            minus = cv2.addWeighted(self.pattern, -scale, self.pattern, 0.0, 0.0, dtype=cv2.CV_8U)
            if channels > 1:
                plus, minus = cv2.merge([plus] * channels), cv2.merge([minus] * channels)
            self._offsets[cache] = (plus, minus)
        plus, minus = self._offsets[cache]
        return (plus, minus) if variant is Variant.A else (minus, plus)

    def apply(self, image: np.ndarray, position: int, variant: Variant, out: np.ndarray | None = None) -> np.ndarray:
        """A marked copy of `image` (BGR or a Y plane, uint8), the `position`-th frame of the segment; written into
        `out` (same shape, may be a view such as the Y rows of an I420 buffer) when given."""
        channels = 1 if image.ndim == 2 else image.shape[2]
        if image.shape[:2] != self.pattern.shape:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, mark is {self.pattern.shape[::-1]}")
        up, down = self._offset(position, variant, channels)
        marked = cv2.add(image, up, dst=out)
        return cv2.subtract(marked, down, dst=marked)


def mark_segment(
    frames: Sequence[SafeFrame],
    key: bytes,
    source_id: str,
    segment: int,
    variant: Variant,
    alpha: float = ALPHA,
) -> list[SafeFrame]:
    """The frames of one segment carrying `variant`'s mark; timing and everything else as they came."""
    if not frames:
        return []
    height, width = frames[0].image.shape[:2]
    mark = SegmentMark(key, source_id, segment, len(frames), width, height, alpha)
    return [replace(frame, image=mark.apply(frame.image, i, variant)) for i, frame in enumerate(frames)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB (inf when identical)."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


# --- informed detection -------------------------------------------------------------------------------------------


class Registration(Protocol):
    """Brings one suspect frame into the reference's geometry (leak tracing supplies ORB + RANSAC for this)."""

    def __call__(self, suspect: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The suspect's luma (float32, height x width) and a mask of the pixels it covers (None: all of them)."""
        ...


def luma(image: np.ndarray) -> np.ndarray:
    """Luma of a BGR image, or the plane itself, as float32."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.dtype == np.uint8 else image.mean(axis=2)
    return image.astype(np.float32, copy=False)


def rescaled(suspect: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Registration for a copy that was only rescaled: resize to the reference's size."""
    return cv2.resize(luma(suspect), (width, height), interpolation=cv2.INTER_AREA), None


@dataclass(frozen=True, slots=True)
class Warp:
    """Registration by a known 3x3 homography from suspect pixels to reference pixels (estimated by tracing)."""

    homography: np.ndarray

    def __call__(self, suspect: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        matrix = np.asarray(self.homography, np.float64)
        image = cv2.warpPerspective(luma(suspect), matrix, (width, height), flags=cv2.INTER_LINEAR)
        inside = np.ones(suspect.shape[:2], np.uint8)
        covered = cv2.warpPerspective(inside, matrix, (width, height), flags=cv2.INTER_NEAREST)
        # Edge pixels mix in the zero border; leave them out.
        covered = cv2.erode(covered, np.ones((5, 5), np.uint8))
        return image, covered.astype(bool)


@lru_cache(maxsize=8)
def _basis(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    # Bicubic resizing is linear and separable, so upscale(g) == rows @ g @ columns exactly. Correlating a residual R
    # with upscale(g) is then correlating rows.T @ R @ columns.T with g: one small projection serves every key.
    rows = cv2.resize(np.eye(GRID_ROWS, dtype=np.float32), (GRID_ROWS, height), interpolation=cv2.INTER_CUBIC)
    columns = cv2.resize(np.eye(GRID_COLUMNS, dtype=np.float32), (width, GRID_COLUMNS), interpolation=cv2.INTER_CUBIC)
    return rows, columns


def residual(
    suspect: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    registration: Registration = rescaled,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """What the suspect segment adds to its unmarked reference, summed over its frames (float32, reference size).

    The frames must already be aligned in time, one suspect frame per reference frame. Each suspect frame is
    registered, then its brightness and contrast are fitted to the reference by least squares over the pixels it
    covers; the weights are the mark's fade, so the frames that carry most of it count most.
    """
    if len(suspect) != len(reference) or not reference:
        raise ValueError("a suspect segment needs one aligned frame per reference frame")
    weights = fade(len(reference)) if weights is None else weights
    height, width = reference[0].shape[:2]
    total = np.zeros((height, width), np.float32)
    for frame, original, weight in zip(suspect, reference, weights, strict=True):
        seen, covered = registration(frame, width, height)
        difference = _fitted_difference(seen, original, covered)
        if difference is not None:
            total += np.float32(weight) * difference
    return total


def _fitted_difference(seen: np.ndarray, original: np.ndarray, covered: np.ndarray | None) -> np.ndarray | None:
    """seen minus the reference fitted to it (gain and offset by least squares on its luma, or a mix of its channels
    for a copy whose colours were filtered: COLOUR_FIT_SHARE), with what the copy put over the picture left out:
    pixels that differ from the reference by far more than coding noise (a burned-in text band, a caption, a player's
    overlay) are dropped from the fit and from the residual, with a margin around them."""
    known = _fit_basis(seen, original, covered)
    difference = _fit(seen, known, covered)
    if difference is None:
        return None
    sample = np.abs(difference[::4, ::4] if covered is None else difference[::4, ::4][covered[::4, ::4]])
    if not sample.size:
        return None
    limit = max(OVERLAY_FLOOR, OVERLAY_SIGMAS * 1.4826 * float(np.median(sample)))
    overlay = (np.abs(difference) > limit).astype(np.uint8)
    if not overlay.any():
        return difference
    overlay = cv2.dilate(overlay, np.ones((OVERLAY_MARGIN, OVERLAY_MARGIN), np.uint8)).astype(bool)
    kept = ~overlay if covered is None else covered & ~overlay
    if kept.mean() < 0.5:  # most of the picture differs: a wrong alignment, not an overlay; leave it as it is
        return difference
    difference = _fit(seen, known, kept)
    return difference


def _fit_basis(seen: np.ndarray, original: np.ndarray, covered: np.ndarray | None) -> np.ndarray:
    """What the copy is fitted on: the reference's luma, unless the copy's colours or tones were filtered. Then the
    mix of the reference's channels that best explains the copy's luma (a channel mix, a tint, greyscale made from
    one channel), or the luma or that mix through a tone curve (a filter that clipped or bent the tones: sepia
    saturates bright pixels), whichever leaves the least residual variance, fitted on every FIT_STEP-th pixel of every
    FIT_STEP-th row; taken only when it leaves at most COLOUR_FIT_SHARE of what the luma leaves."""
    grey = luma(original)
    step = (slice(None, None, FIT_STEP), slice(None, None, FIT_STEP))
    inside = None if covered is None else covered[step].reshape(-1)

    def sample(image: np.ndarray) -> np.ndarray:
        flat = image[step].reshape(-1, *image.shape[2:])
        return flat if inside is None else flat[inside]

    y = sample(seen)
    if y.size < 64 or float(np.var(grey[step])) == 0.0:
        return grey

    def left(prediction: np.ndarray) -> float:  # residual variance after a gain and an offset
        spread = float(np.var(prediction))
        if spread == 0.0:
            return float(np.var(y))
        gain = float(np.mean((prediction - prediction.mean()) * (y - y.mean()))) / spread
        return float(np.var(y - gain * prediction))

    plain = sample(grey)
    candidates: list[tuple[float, Callable[[], np.ndarray]]] = []
    tone = _tone_curve(plain, y)
    if tone is not None:
        candidates.append((left(np.interp(plain, *tone)), lambda: np.interp(grey, *tone).astype(np.float32)))
    if original.ndim == 3 and original.shape[2] == 3:
        design = np.hstack([sample(original).astype(np.float32), np.ones((len(y), 1), np.float32)])
        coefficients = np.linalg.lstsq(design, y, rcond=None)[0].astype(np.float32)
        mixed = design @ coefficients

        def mix() -> np.ndarray:
            return (original.astype(np.float32) @ coefficients[:3] + coefficients[3]).astype(np.float32)

        candidates.append((left(mixed), mix))
        bent = _tone_curve(mixed, y)
        if bent is not None:
            candidates.append((left(np.interp(mixed, *bent)), lambda: np.interp(mix(), *bent).astype(np.float32)))
    if not candidates:
        return grey
    best, make = min(candidates, key=lambda c: c[0])
    return make() if best <= COLOUR_FIT_SHARE * left(plain) else grey


def _tone_curve(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The copy's mean luma y at each of TONE_BINS quantiles of x, as points (x, y) to join by straight lines. Bins
    hold pixels from all over the picture, so the mark (a smooth pattern unrelated to tone) averages out in them."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, TONE_BINS + 1)))
    if len(edges) < 4:
        return None
    bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(bins, minlength=len(edges) - 1)
    used = counts > 0
    centres = np.bincount(bins, x, len(edges) - 1)[used] / counts[used]
    levels = np.bincount(bins, y, len(edges) - 1)[used] / counts[used]
    return centres.astype(np.float32), levels.astype(np.float32)


def _fit(seen: np.ndarray, known: np.ndarray, covered: np.ndarray | None) -> np.ndarray | None:
    picked = (seen, known) if covered is None else (seen[covered], known[covered])
    x, y = (v.astype(np.float64).ravel() for v in picked[::-1])
    spread = x.var() if x.size > 1 else 0.0
    if spread == 0:
        return None
    gain = float(np.mean((x - x.mean()) * (y - y.mean())) / spread)
    offset = float(y.mean() - gain * x.mean())
    difference = (seen - (gain * known + offset)).astype(np.float32)
    if covered is not None:
        difference[~covered] = 0
    return difference


def project(total: np.ndarray) -> np.ndarray:
    """A residual reduced to the pattern's grid (rows x columns, zero mean): all the mark can be correlated with."""
    rows, columns = _basis(total.shape[1], total.shape[0])
    projected = rows.T @ total @ columns.T
    return projected - projected.mean()


def z_score(projected: np.ndarray, key: bytes, source_id: str, segment: int, unit: int | None = None) -> float:
    """Correlation of a projected residual with one segment's grid, in standard deviations of chance.

    For a grid independent of the residual (another key, another segment, or no mark at all) the chips are
    independent ±1, so the correlation has mean 0 and variance exactly |projected|²: z follows N(0, 1), which is what
    testing against many wrong keys would estimate. A perfect match tops out near √1200 ≈ 35.
    """
    norm = float(np.linalg.norm(projected))
    if norm == 0:
        return 0.0
    return float(np.sum(projected * grid(key, source_id, segment, unit)) / norm)


def chance(
    projected: np.ndarray, key: bytes, source_id: str, segment: int, trials: int = 300, unit: int | None = None
) -> np.ndarray:
    """z of the same residual against `trials` keys never used for marking: what chance looks like, for reports."""
    decoys = (hmac.new(key, f"cradle.mark.decoy|{i}".encode(), hashlib.sha256).digest() for i in range(trials))
    return np.array([z_score(projected, decoy, source_id, segment, unit) for decoy in decoys])


@dataclass(frozen=True, slots=True)
class Detection:
    """The verdict on one suspect segment."""

    z: float

    @property
    def variant(self) -> Variant | None:
        """The variant the segment carries, or None for an erasure (|z| below ERASURE_Z)."""
        if abs(self.z) < ERASURE_Z:
            return None
        return Variant.A if self.z > 0 else Variant.B


def detect(
    suspect: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    key: bytes,
    source_id: str,
    segment: int,
    registration: Registration = rescaled,
    unit: int | None = None,
) -> Detection:
    """Which variant of `segment` (or of one unit of it) a suspect copy carries, from its frames aligned in time to the
    unmarked reference of that segment or unit."""
    return Detection(z_score(project(residual(suspect, reference, registration)), key, source_id, segment, unit))
