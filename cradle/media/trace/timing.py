"""Time: which source instant each suspect frame shows, confirmed against the reference frames.

The fingerprint index gives a shortlist of offsets; `align` registers the suspect once, tries every offset near the
shortlist at half a camera frame, keeps the one under which the suspect's changes follow the reference's, sharpens it
at full size and rejects a copy whose picture disagrees anywhere with the source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.fingerprint import SEGMENT_SECONDS, SourceMatch
from cradle.media.mark import luma
from cradle.media.trace.framing import IDENTITY, Framing
from cradle.media.trace.mapping import Piece
from cradle.media.trace.references import ReferenceLoader, References
from cradle.media.trace.registration import (
    MIN_BLOCK_CORRELATION,
    Registration,
    block_correlations,
    dense_homography,
    estimate_homography,
    hidden_parts,
    misfit,
    refine_homography,
    rescale_homography,
)

# How many suspect frames the time alignment and the picture check look at.
ALIGN_SAMPLES = 12
ALIGN_SIZE = (80, 60)  # the picture size at which time offsets are compared
SHIFT_SEARCH_STEPS = 6  # half camera frames either side that are scored after their agreed shift
# Share of the reference the registered suspect must reach (a crop of 30 % of each side keeps 49 %, less its edges).
MIN_COVERED = 0.4
# Mean correlation with the reference, after registration, below which the suspect does not show that source.
MIN_CORRELATION = 0.9
# More than sharpening the registration raises the pictures' agreement (`align`'s `agrees_above`): up to 0.12 on
# tuning controls 0-8 (another bed of the room, 0.82 -> 0.94).
SHARPENING_GAIN = 0.2


@dataclass(frozen=True, slots=True)
class Alignment:
    """A suspect matched to its source: source time = suspect time + offset; `homography` maps pixels of the framed
    suspect (`framing` applied: cropped to the picture, turned and mirrored back) to reference pixels."""

    source_id: str
    offset: float
    homography: np.ndarray = field(repr=False)
    registered_by: str  # "orb" or "rescale"
    correlation: float  # mean correlation of the aligned suspect and reference frames
    agreement: float  # the third-lowest block correlation, median over frames: how everywhere the pictures agree
    framing: Framing = IDENTITY
    # A copy sped up, slowed down or spliced: the piece of the time mapping this alignment covers, and the camera's
    # frame rate at which that piece was re-timed (cradle.media.trace.mapping); `offset` is then on that timeline.
    piece: Piece | None = None
    pace: float = 0.0
    hidden: np.ndarray | None = field(default=None, repr=False)  # reference pixels covered by captions, stickers

    def segment_at(self, suspect_time: float) -> tuple[int, float]:
        """The source segment shown at `suspect_time`, and the time into that segment in seconds."""
        source_time = suspect_time + self.offset
        index = math.floor(source_time / SEGMENT_SECONDS)
        return index, source_time - index * SEGMENT_SECONDS


def _agreed_offset(
    suspects: Sequence[np.ndarray],
    times: np.ndarray,
    reference_times: np.ndarray,
    references: Sequence[np.ndarray],
    homography: np.ndarray,
    offsets: np.ndarray,
    offset: float,
    picked: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The offset whose frame pairs differ least once moved by the shift they agree on, with those pairs' reference
    frames and the homography so moved; `offset`, `picked` and `homography` as they came if none fits better."""
    greys = [luma(s) for s in suspects]
    height, width = luma(references[0]).shape
    registration = Registration(homography)
    seen = [registration(s, width, height)[0] for s in suspects]
    # Compared away from the borders, which the crop leaves empty.
    inner = (slice(height // 8, height - height // 8), slice(width // 8, width - width // 8))
    window = cv2.createHanningWindow((inner[1].stop - inner[1].start, inner[0].stop - inner[0].start), cv2.CV_32F)
    best = misfit(list(zip(greys, (luma(references[r]) for r in picked), strict=True)), homography)
    found = (offset, picked, homography)
    for candidate in offsets:
        wanted = times + candidate
        chosen = np.abs(reference_times[None, :] - wanted[:, None]).argmin(axis=1)
        if np.any(np.abs(reference_times[chosen] - wanted) > np.median(np.diff(reference_times))):
            continue
        known = [luma(references[r]) for r in chosen]
        shifts = [
            cv2.phaseCorrelate(np.ascontiguousarray(k[inner]), np.ascontiguousarray(s[inner]), window)[0]
            for s, k in zip(seen, known, strict=True)
        ]
        dx, dy = np.median(np.asarray(shifts), axis=0)
        moved = np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]]) @ homography
        value = misfit(list(zip(greys, known, strict=True)), moved, above=best)
        if value < best:
            best, found = value, (float(candidate), chosen, moved)
    return found


def _normalised(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = np.where(mask, image, 0).astype(np.float32).ravel()
    count = max(1, int(mask.sum()))
    mean = values.sum() / count
    values = np.where(mask.ravel(), values - mean, 0)
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 1e-6 else values


def _motion(vectors: np.ndarray) -> np.ndarray:
    """Rows with their common part removed and unit norm again: what changes from frame to frame."""
    moving = vectors - vectors.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(moving, axis=1, keepdims=True)
    return moving / np.maximum(norms, 1e-6)


def _sharpened(
    exact: list[tuple[np.ndarray, np.ndarray]], homography: np.ndarray, hidden: np.ndarray | None
) -> np.ndarray:
    """The registration sharpened on frame pairs known to show the same instant. The descent can settle in a local
    minimum, so it starts from ORB on these pairs as well as from `homography`, and the start that ends with the
    pictures closest wins."""
    again, _ = estimate_homography(exact)
    starts = [homography] if again is None else [homography, again]
    # A keystone (a screen filmed at a slant) is beyond shift and scale: ECC fits it from the best start so far.
    greys = [(luma(s), luma(r)) for s, r in exact]
    dense = dense_homography(exact, min(starts, key=lambda h: misfit(greys, h)), hidden)
    if dense is not None:
        starts.append(dense)
    return min((refine_homography(exact, start) for start in starts), key=lambda h: misfit(greys, h))


def align(
    frames: Sequence[np.ndarray],
    fps: float,
    matches: Sequence[SourceMatch],
    reference_loader: ReferenceLoader,
    hidden_share: float = 0.0,
    registered: Alignment | None = None,
    agrees_above: float | None = None,
) -> Alignment | None:
    """Confirm fingerprint matches of one source against its reference frames; None when the suspect does not show it.

    With `hidden_share`, up to that share of the picture may be covered by the copy's own captions and stickers:
    pixels that differ from the reference in every frame are left out of every comparison and of the reading.
    `registered` is an alignment of the same suspect pixels to the same source (the copy as it is, when these frames
    are a re-timed piece of it): its homography holds here too, so it is used as found instead of registering again.

    A still ward scene makes every second look alike, so the fingerprints' offsets are only a shortlist. Here the
    suspect is registered once, then every offset within a second of the shortlist is tried at half a camera frame, and
    the one under which the suspect's changes (breathing, the monitor's trace, the camera's shake) correlate best with
    the reference's wins. Last, the aligned pictures must agree everywhere (`_block_correlations`).

    With `agrees_above`, a source whose picture, registered before sharpening, agrees more than SHARPENING_GAIN below
    it is not sharpened: its alignment comes back as it stands, agreeing that little (the caller wants only sources
    that agree as well as another did; sharpening another bed of the room cost an unmarked copy 2 of its 9 CPU s).
    """
    if not matches:
        return None
    source_id = matches[0].source_id
    references = References(reference_loader, source_id)
    duration = len(frames) / fps
    shortlist = np.asarray([m.offset for m in matches])
    first = math.floor((shortlist.min() - 1) / SEGMENT_SECONDS)
    last = math.floor((shortlist.max() + 1 + duration) / SEGMENT_SECONDS)
    times, images = [], []
    for index in range(max(0, first), last + 1):
        segment = references(index)
        times += [index * SEGMENT_SECONDS + j * SEGMENT_SECONDS / len(segment) for j in range(len(segment))]
        images += segment
    if len(images) < 2:
        return None
    times_array = np.asarray(times)
    camera_fps = 1 / float(np.median(np.diff(times_array)))
    height, width = images[0].shape[:2]

    samples = np.linspace(0, len(frames) - 1, min(ALIGN_SAMPLES, len(frames))).round().astype(int)
    pairs = []
    for i in samples[:: max(1, len(samples) // 3)][:3]:
        closest = int(np.argmin(np.abs(times_array - (i / fps + matches[0].offset))))
        pairs.append((frames[i], images[closest]))
    if registered is not None:
        homography, registered_by = registered.homography, registered.registered_by
    else:
        estimated, _ = estimate_homography(pairs)
        homography, registered_by = (
            (estimated, "orb")
            if estimated is not None
            else (rescale_homography(frames[0].shape[1::-1], (width, height)), "rescale")
        )
    registration = Registration(homography)

    seen = [registration(frames[i], width, height) for i in samples]
    hidden = None
    if hidden_share:
        known = [luma(images[int(np.argmin(np.abs(times_array - (i / fps + matches[0].offset))))]) for i in samples]
        covered_now = registration.covered(frames[0].shape, width, height)
        hidden = hidden_parts([image for image, _ in seen], known, covered_now, hidden_share)
        if hidden is None:
            return None
        registration = Registration(homography, hidden)
        seen = [registration(frames[i], width, height) for i in samples]
    mask = registration.covered(frames[0].shape, width, height)
    if mask.mean() < MIN_COVERED:
        return None
    # Reference frames stay as they came (a live buffer holds thousands); luma is taken where it is needed.
    small_mask = cv2.resize(mask.astype(np.uint8), ALIGN_SIZE, interpolation=cv2.INTER_NEAREST).astype(bool)

    def shrink(image: np.ndarray) -> np.ndarray:
        return _normalised(cv2.resize(image, ALIGN_SIZE, interpolation=cv2.INTER_AREA), small_mask)

    suspect_matrix = np.stack([shrink(image) for image, _ in seen])
    reference_matrix = np.stack([shrink(image) for image in (luma(i) for i in images)])
    moving = _motion(suspect_matrix) @ _motion(reference_matrix).T

    sample_times = samples / fps
    offsets = np.arange(shortlist.min() - 1, shortlist.max() + 1, 0.5 / camera_fps)
    wanted = sample_times[None, :] + offsets[:, None]  # offsets x samples
    nearest = np.clip(np.searchsorted(times_array, wanted), 1, len(times_array) - 1)
    nearest = np.where(wanted - times_array[nearest - 1] < times_array[nearest] - wanted, nearest - 1, nearest)
    inside = np.abs(times_array[nearest] - wanted) <= 1 / camera_fps
    rows = np.arange(len(samples))[None, :]
    covered = inside.mean(axis=1)
    scores = np.where(inside, moving[rows, nearest], 0).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    scores[covered < 0.75] = -np.inf
    best = int(np.argmax(scores))
    if not np.isfinite(scores[best]):
        return None
    best_offset = float(offsets[best])
    # The mark needs the exact camera frame: one frame off, the camera's shake alone outweighs it. Sharpen the offset
    # at full size, where that shake shows, within two frames either side.
    full: dict[int, np.ndarray] = {}

    def unit(r: int) -> np.ndarray:
        if r not in full:
            full[r] = _normalised(luma(images[r]), mask)
        return full[r]

    suspect_full = [_normalised(image, mask) for image, _ in seen]
    best_still, picked = -math.inf, nearest[best]
    for offset in best_offset + np.arange(-4, 5) * 0.5 / camera_fps:
        wanted_times = sample_times + offset
        chosen = np.abs(times_array[None, :] - wanted_times[:, None]).argmin(axis=1)
        usable = np.abs(times_array[chosen] - wanted_times) <= 0.5 / camera_fps
        if usable.mean() < 0.75:
            continue
        value = float(np.mean([suspect_full[j] @ unit(int(chosen[j])) for j in np.flatnonzero(usable)]))
        if value > best_still:
            best_still, best_offset, picked = value, float(offset), chosen
    correlation = best_still
    if correlation < MIN_CORRELATION:
        return None
    chosen = np.linspace(0, len(samples) - 1, 3).round().astype(int)
    # ORB's fit can be a pixel off, and then the camera's shake makes a neighbouring frame look closest. So each
    # nearby offset is also scored by how well its frame pairs fit once they are moved by the shift they agree on.
    best_offset, picked, agreed = _agreed_offset(
        [frames[samples[j]] for j in chosen],
        sample_times[chosen],
        times_array,
        images,
        homography,
        best_offset + np.arange(-SHIFT_SEARCH_STEPS, SHIFT_SEARCH_STEPS + 1) * 0.5 / camera_fps,
        best_offset,
        picked[chosen],
    )
    picked_all = np.abs(times_array[None, :] - (sample_times + best_offset)[:, None]).argmin(axis=1)
    picked_all[chosen] = picked
    picked = picked_all
    # Sharpen the registration on frame pairs now known to show the same instant, then look at the picture again. A
    # registration given (the whole copy's, already moved by the shift its pairs agreed on and sharpened) stands as
    # it is: a piece's fewer pairs can only move it by a fraction of a pixel, and the pieces of one copy would no
    # longer be read in one registration.
    if registered is None:
        unsharpened = _agreement(frames, samples, images, picked, agreed, hidden) if agrees_above is not None else 1.0
        if agrees_above is not None and unsharpened < agrees_above - SHARPENING_GAIN:
            if unsharpened < MIN_BLOCK_CORRELATION:
                return None
            return Alignment(source_id, best_offset, agreed, registered_by, correlation, unsharpened, hidden=hidden)
        homography = _sharpened([(frames[samples[j]], images[picked[j]]) for j in chosen], agreed, hidden)
    agreement = _agreement(frames, samples, images, picked, homography, hidden)
    if agreement < MIN_BLOCK_CORRELATION:
        return None
    return Alignment(source_id, best_offset, homography, registered_by, correlation, agreement, hidden=hidden)


def _agreement(
    frames: Sequence[np.ndarray],
    samples: np.ndarray,
    images: Sequence[np.ndarray],
    picked: np.ndarray,
    homography: np.ndarray,
    hidden: np.ndarray | None,
) -> float:
    """How everywhere the registered samples agree with their reference frames: the third-lowest block correlation,
    median over the samples."""
    height, width = images[0].shape[:2]
    registration = Registration(homography, hidden)
    seen = [registration(frames[i], width, height) for i in samples]
    covered = registration.covered(frames[0].shape, width, height)
    blocks = [
        block_correlations(image, luma(images[r]), covered, usable)
        for (image, usable), r in zip(seen, picked, strict=True)
    ]
    return float(np.median([b[min(2, len(b) - 1)] if len(b) else -1.0 for b in blocks]))
