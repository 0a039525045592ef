"""Leak tracing without Django: from a suspect clip to its source, its bits, and the session that received them.

1. `FingerprintIndex.search` (cradle.media.fingerprint) names candidate sources and rough time offsets.
2. `align` confirms one against its unmarked reference frames: an ORB + RANSAC homography brings the suspect into the
   reference's geometry, the time offset is refined frame by frame, and a copy whose picture differs anywhere from the
   reference (another bed, another card) is rejected, so that a look-alike scene is "no matching source".
3. `read_bits` runs the informed detector of cradle.media.mark on every segment the suspect covers.
4. `attribute` compares the bits with each candidate's codeword and gives the chance that an innocent matches as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.fingerprint import SEGMENT_SECONDS, FingerprintIndex, SourceMatch
from cradle.media.mark import ERASURE_Z, Variant, fade, luma, project, residual, z_score

ReferenceLoader = Callable[[str, int], Sequence[np.ndarray]]

# How many suspect frames the time alignment and the picture check look at.
ALIGN_SAMPLES = 12
ALIGN_SIZE = (80, 60)  # the picture size at which time offsets are compared
SHIFT_SEARCH_STEPS = 6  # half camera frames either side that are scored after their agreed shift
# Mean correlation with the reference, after registration, below which the suspect does not show that source.
MIN_CORRELATION = 0.9
# Textured blocks of the picture (8 x 6 per frame) that correlate less than this with the reference show something the
# source never did: another bed's card, another baby. Flat blocks (std below BLOCK_TEXTURE levels) are skipped. The
# third-worst block counts, since a thin moving line (the monitor's trace) can smear in one or two blocks at 300 kbit/s.
BLOCK_GRID = (8, 6)
BLOCK_TEXTURE = 6.0
MIN_BLOCK_CORRELATION = 0.5
# A segment is read when the suspect covers at least this share of its frames (a leak that starts mid-segment);
# a short share mostly reads as an erasure, but a clear one is one more bit, and z stays N(0, 1) by chance.
MIN_COVERAGE = 0.3
MIN_ORB_INLIERS = 12
CLIPPED_LOW, CLIPPED_HIGH = 4, 248  # luma levels at which a suspect's pixel is taken as clipped
ORB_WIDTH = 480
# A crop of 6 % moves a corner by at most that share of the picture; a homography that moves one further is wrong.
MAX_CORNER_SHIFT = 0.08
RANSAC_SEED = 1  # the same suspect always gives the same evidence
# Verdict thresholds (see `decide`).
IDENTIFY_P = 1e-4
RUNNER_UP_RATIO = 100.0


@dataclass(frozen=True, slots=True)
class Alignment:
    """A suspect matched to its source: source time = suspect time + offset; `homography` maps suspect pixels to
    reference pixels."""

    source_id: str
    offset: float
    homography: np.ndarray = field(repr=False)
    registered_by: str  # "orb" or "rescale"
    correlation: float  # mean correlation of the aligned suspect and reference frames
    agreement: float  # the third-lowest block correlation, median over frames: how everywhere the pictures agree

    def segment_at(self, suspect_time: float) -> tuple[int, float]:
        """The source segment shown at `suspect_time`, and the time into that segment in seconds."""
        source_time = suspect_time + self.offset
        index = math.floor(source_time / SEGMENT_SECONDS)
        return index, source_time - index * SEGMENT_SECONDS


@dataclass(frozen=True, slots=True)
class SegmentReading:
    """The detector's verdict on one source segment seen in the suspect."""

    source_id: str
    index: int
    z: float
    suspect_start: float  # suspect time (s) at which the segment starts
    coverage: float  # share of the segment's frames the suspect shows

    @property
    def variant(self) -> Variant | None:
        """The variant read, or None for an erasure (|z| below ERASURE_Z)."""
        if abs(self.z) < ERASURE_Z:
            return None
        return Variant.A if self.z > 0 else Variant.B

    @property
    def bit(self) -> str | None:
        """The variant's name ("A" or "B") for a report, or None for an erasure (Variant.A is 0, hence falsy)."""
        variant = self.variant
        return None if variant is None else variant.name


class _References:
    """Reference frames per segment, loaded once (the loader may decrypt and decode)."""

    def __init__(self, loader: ReferenceLoader, source_id: str) -> None:
        self._loader, self._source = loader, source_id
        self._cache: dict[int, list[np.ndarray]] = {}

    def __call__(self, index: int) -> list[np.ndarray]:
        if index < 0:
            return []
        if index not in self._cache:
            try:
                frames = list(self._loader(self._source, index) or [])
            except LookupError:
                frames = []
            self._cache[index] = frames
        return self._cache[index]


class _Registered:
    """Registration by one homography, with the coverage mask computed once per suspect frame size."""

    def __init__(self, homography: np.ndarray) -> None:
        self.homography = np.asarray(homography, np.float64)
        self._masks: dict[tuple[int, int, int, int], np.ndarray] = {}

    def covered(self, shape: tuple[int, ...], width: int, height: int) -> np.ndarray:
        """The reference pixels that a suspect frame of `shape` reaches, away from its edges."""
        key = (shape[0], shape[1], width, height)
        if key not in self._masks:
            inside = np.ones(shape[:2], np.uint8)
            covered = cv2.warpPerspective(inside, self.homography, (width, height), flags=cv2.INTER_NEAREST)
            # Edge pixels mix in the zero border; leave them out.
            self._masks[key] = cv2.erode(covered, np.ones((5, 5), np.uint8)).astype(bool)
        return self._masks[key]

    def __call__(self, suspect: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray | None]:
        image = cv2.warpPerspective(luma(suspect), self.homography, (width, height), flags=cv2.INTER_LINEAR)
        # A leaker's brightness or contrast change clips highlights and shadows, and a clipped pixel carries no mark;
        # left in, it would also skew the brightness fit of the whole frame.
        clipped = ((image <= CLIPPED_LOW) | (image >= CLIPPED_HIGH)).astype(np.uint8)
        clipped = cv2.dilate(clipped, np.ones((5, 5), np.uint8)).astype(bool)
        return image, self.covered(suspect.shape, width, height) & ~clipped


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def rescale_homography(suspect_size: tuple[int, int], reference_size: tuple[int, int]) -> np.ndarray:
    """The homography of a copy that was only rescaled (width, height of each)."""
    sx, sy = reference_size[0] / suspect_size[0], reference_size[1] / suspect_size[1]
    return np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)


def estimate_homography(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray | None, int]:
    """Suspect → reference homography by ORB features and RANSAC over (suspect, reference) frame pairs, pooled.

    Gives None when too few matches agree, or when the result is not a plausible crop-and-rescale (a leaker crops a few
    per cent, never mirrors or turns the picture), so the caller falls back to plain rescaling. A ward scene is full of
    repeated texture (a card's letters, a monitor's digits), so matches must pass Lowe's ratio test, and the full
    homography competes with an affine fit: whichever leaves the smaller difference between the pictures wins.
    """
    orb = cv2.ORB_create(nfeatures=2000, fastThreshold=10)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    source_points, target_points = [], []
    for suspect, reference in pairs:
        grey_s, grey_r = _grey(suspect), _grey(reference)
        # Work at no less than 480 pixels across (ORB's corners need room) and bring the suspect to the reference's
        # scale, so that their pyramids overlap.
        zoom = max(1.0, ORB_WIDTH / grey_r.shape[1])
        big_r = cv2.resize(grey_r, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR) if zoom > 1 else grey_r
        sx, sy = big_r.shape[1] / grey_s.shape[1], big_r.shape[0] / grey_s.shape[0]
        big_s = cv2.resize(grey_s, big_r.shape[1::-1], interpolation=cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR)
        ks, ds = orb.detectAndCompute(big_s, None)
        kr, dr = orb.detectAndCompute(big_r, None)
        if ds is None or dr is None or len(dr) < 2:
            continue
        for found in matcher.knnMatch(ds, dr, k=2):
            if len(found) < 2 or found[0].distance > 0.8 * found[1].distance:
                continue
            x, y = ks[found[0].queryIdx].pt
            source_points.append((x / sx, y / sy))
            u, v = kr[found[0].trainIdx].pt
            target_points.append((u / zoom, v / zoom))
    if len(source_points) < MIN_ORB_INLIERS:
        return None, 0
    source, target = np.float32(source_points), np.float32(target_points)
    reference_height, reference_width = _grey(pairs[0][1]).shape[:2]
    suspect_height, suspect_width = _grey(pairs[0][0]).shape[:2]
    plain = rescale_homography((suspect_width, suspect_height), (reference_width, reference_height))
    corners = np.float32([[0, 0], [suspect_width, 0], [suspect_width, suspect_height], [0, suspect_height]])
    expected = cv2.perspectiveTransform(corners[None], plain)[0]
    fits = []
    cv2.setRNGSeed(RANSAC_SEED)
    matrix, inliers = cv2.findHomography(source, target, cv2.RANSAC, 2.0, maxIters=4000, confidence=0.999)
    if matrix is not None:
        fits.append((matrix / matrix[2, 2], int(inliers.sum())))
    affine, inliers = cv2.estimateAffine2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if affine is not None:
        fits.append((np.vstack([affine, [0, 0, 1]]), int(inliers.sum())))
    greys = [(luma(s), luma(r)) for s, r in pairs]
    best, best_count, best_misfit = None, 0, math.inf
    for candidate, count in fits:
        moved = cv2.perspectiveTransform(corners[None], candidate)[0]
        if count < MIN_ORB_INLIERS or np.abs(moved - expected).max() > MAX_CORNER_SHIFT * reference_width:
            continue
        value = _misfit(greys, candidate)
        if value < best_misfit:
            best, best_count, best_misfit = candidate, count, value
    if best is None or best_misfit > _misfit(greys, plain):
        return None, best_count
    return best, best_count


def _misfit(pairs: Sequence[tuple[np.ndarray, np.ndarray]], homography: np.ndarray) -> float:
    """Mean squared difference of the registered suspect frames and their references, after a gain and offset fit."""
    total = 0.0
    for suspect, reference in pairs:
        height, width = reference.shape
        seen = cv2.warpPerspective(suspect, homography, (width, height), flags=cv2.INTER_LINEAR)
        inside = cv2.warpPerspective(np.ones(suspect.shape, np.uint8), homography, (width, height))
        inside = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
        x, y = reference[inside], seen[inside]
        gain = float(np.mean((x - x.mean()) * (y - y.mean())) / max(float(x.var()), 1e-6))
        total += float(np.mean((y - y.mean() - gain * (x - x.mean())) ** 2))
    return total / max(1, len(pairs))


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
    registration = _Registered(homography)
    seen = [registration(s, width, height)[0] for s in suspects]
    # Compared away from the borders, which the crop leaves empty.
    inner = (slice(height // 8, height - height // 8), slice(width // 8, width - width // 8))
    window = cv2.createHanningWindow((inner[1].stop - inner[1].start, inner[0].stop - inner[0].start), cv2.CV_32F)
    best = _misfit(list(zip(greys, (luma(references[r]) for r in picked), strict=True)), homography)
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
        value = _misfit(list(zip(greys, known, strict=True)), moved)
        if value < best:
            best, found = value, (float(candidate), chosen, moved)
    return found


def refine_homography(pairs: Sequence[tuple[np.ndarray, np.ndarray]], homography: np.ndarray) -> np.ndarray:
    """The homography sharpened to an eighth of a pixel by a descent on shift and scale in the reference's frame.

    The mark's chips are a few reference pixels wide, and a registration half a pixel off leaves every edge of the
    picture in the residual, which buries the mark (z falls from about 18 to 4 on 360p copies). ORB's fit is not that
    precise, and ECC settles a fraction of a pixel away from where the residual is smallest.
    """
    greys = [(luma(s), luma(r)) for s, r in pairs]
    height, width = greys[0][1].shape
    cx, cy = width / 2, height / 2
    best = np.asarray(homography, np.float64)
    score = _misfit(greys, best)
    for shift in (2.0, 1.0, 0.5, 0.25, 0.125, 0.0625):
        stretch = shift / 200
        improved = True
        while improved:
            improved = False
            # Shift and stretch of one axis trade off where the picture's detail sits off centre, so they also move
            # together; axis moves alone stall in that valley.
            for tx, ty, sx, sy in (
                (shift, 0, 0, 0), (-shift, 0, 0, 0), (0, shift, 0, 0), (0, -shift, 0, 0),
                (0, 0, stretch, 0), (0, 0, -stretch, 0), (0, 0, 0, stretch), (0, 0, 0, -stretch),
                (shift, 0, stretch, 0), (-shift, 0, -stretch, 0), (shift, 0, -stretch, 0), (-shift, 0, stretch, 0),
                (0, shift, 0, stretch), (0, -shift, 0, -stretch), (0, shift, 0, -stretch), (0, -shift, 0, stretch),
            ):  # fmt: skip
                step = np.array([[1 + sx, 0, tx - sx * cx], [0, 1 + sy, ty - sy * cy], [0, 0, 1]])
                candidate = step @ best
                value = _misfit(greys, candidate)
                if value < score:
                    best, score, improved = candidate, value, True
    return best / best[2, 2]


def _normalised(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = np.where(mask, image, 0).astype(np.float32).ravel()
    count = max(1, int(mask.sum()))
    mean = values.sum() / count
    values = np.where(mask.ravel(), values - mean, 0)
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 1e-6 else values


def _block_correlations(seen: np.ndarray, known: np.ndarray, covered: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Correlation between suspect and reference in each textured block of one frame pair, lowest first.

    Re-encoding blurs a block but keeps its correlation high; a block that shows something else (another bed's card,
    another baby) falls towards zero. Blocks the suspect does not wholly cover, flat blocks (their correlation is only
    noise) and clipped pixels are left out.
    """
    height, width = seen.shape
    columns, rows = BLOCK_GRID
    values = []
    for r in range(rows):
        for c in range(columns):
            block = (
                slice(r * height // rows, (r + 1) * height // rows),
                slice(c * width // columns, (c + 1) * width // columns),
            )
            inside = usable[block]
            if covered[block].mean() < 0.9 or inside.mean() < 0.5:
                continue
            x, y = known[block][inside].astype(np.float64), seen[block][inside].astype(np.float64)
            if x.std() < BLOCK_TEXTURE or y.std() < 1e-6:
                continue
            values.append(float(np.corrcoef(x, y)[0, 1]))
    return np.sort(np.asarray(values))


def _motion(vectors: np.ndarray) -> np.ndarray:
    """Rows with their common part removed and unit norm again: what changes from frame to frame."""
    moving = vectors - vectors.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(moving, axis=1, keepdims=True)
    return moving / np.maximum(norms, 1e-6)


def align(
    frames: Sequence[np.ndarray],
    fps: float,
    matches: Sequence[SourceMatch],
    reference_loader: ReferenceLoader,
) -> Alignment | None:
    """Confirm fingerprint matches of one source against its reference frames; None when the suspect does not show it.

    A still ward scene makes every second look alike, so the fingerprints' offsets are only a shortlist. Here the
    suspect is registered once, then every offset within a second of the shortlist is tried at half a camera frame, and
    the one under which the suspect's changes (breathing, the monitor's trace, the camera's shake) correlate best with
    the reference's wins. Last, the aligned pictures must agree everywhere (`_block_correlations`).
    """
    if not matches:
        return None
    source_id = matches[0].source_id
    references = _References(reference_loader, source_id)
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
        nearest = int(np.argmin(np.abs(times_array - (i / fps + matches[0].offset))))
        pairs.append((frames[i], images[nearest]))
    homography, _ = estimate_homography(pairs)
    registered_by = "orb"
    if homography is None:
        homography, registered_by = rescale_homography(frames[0].shape[1::-1], (width, height)), "rescale"
    registration = _Registered(homography)

    seen = [registration(frames[i], width, height) for i in samples]
    mask = registration.covered(frames[0].shape, width, height)
    if mask.mean() < 0.5:
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
    best_offset, picked, homography = _agreed_offset(
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
    # Sharpen the registration on frame pairs now known to show the same instant, then look at the picture again. The
    # descent can settle in a local minimum, so it starts from ORB on these pairs as well as from the first estimate,
    # and the start that ends with the pictures closest wins.
    exact = [(frames[samples[j]], images[picked[j]]) for j in chosen]
    again, _ = estimate_homography(exact)
    starts = [homography] if again is None else [homography, again]
    greys = [(luma(s), luma(r)) for s, r in exact]
    homography = min((refine_homography(exact, start) for start in starts), key=lambda h: _misfit(greys, h))
    registration = _Registered(homography)
    seen = [registration(frames[i], width, height) for i in samples]
    covered = registration.covered(frames[0].shape, width, height)
    blocks = [
        _block_correlations(image, luma(images[r]), covered, usable)
        for (image, usable), r in zip(seen, picked, strict=True)
    ]
    agreement = float(np.median([b[min(2, len(b) - 1)] if len(b) else -1.0 for b in blocks]))
    if agreement < MIN_BLOCK_CORRELATION:
        return None
    return Alignment(source_id, best_offset, homography, registered_by, correlation, agreement)


def locate_all(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    candidates: int = 3,
    matches: Sequence[SourceMatch] | None = None,
) -> list[Alignment]:
    """Every shortlisted source the suspect's picture agrees with, best agreement first.

    The fingerprint index shortlists sources (or `matches`, when the caller searched already); the best `candidates`
    of them are checked against their references. Two beds of one ward can look alike at fingerprint size, so all are
    checked rather than the first that passes.
    """
    by_source: dict[str, list[SourceMatch]] = {}
    for match in index.search(frames, fps) if matches is None else matches:
        if match.source_id in by_source or len(by_source) < candidates:
            by_source.setdefault(match.source_id, []).append(match)
    found = [align(frames, fps, shortlist, reference_loader) for shortlist in by_source.values()]
    return sorted((a for a in found if a is not None), key=lambda a: (a.agreement, a.correlation), reverse=True)


def locate(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    candidates: int = 3,
    matches: Sequence[SourceMatch] | None = None,
) -> Alignment | None:
    """The source of a suspect clip and its alignment, or None for "no matching source"."""
    found = locate_all(frames, fps, index, reference_loader, candidates, matches)
    return found[0] if found else None


def trace(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    key: bytes,
    matches: Sequence[SourceMatch] | None = None,
) -> tuple[Alignment | None, list[SegmentReading]]:
    """Source, alignment and readings of one suspect; (None, []) for "no matching source".

    The mark settles what the picture cannot: when the best-agreeing source reads no segment at all, the next source
    that also agrees is read, since a mark under the wrong source's key reads as chance (erasures), never as bits.
    """
    found = locate_all(frames, fps, index, reference_loader, matches=matches)
    first: tuple[Alignment | None, list[SegmentReading]] = (None, [])
    for alignment in found:
        readings = read_bits(frames, fps, alignment, reference_loader, key)
        if any(r.variant is not None for r in readings):
            return alignment, readings
        if first[0] is None:
            first = (alignment, readings)
    return first


def read_bits(
    suspect_frames: Sequence[np.ndarray],
    suspect_fps: float,
    alignment: Alignment,
    reference_loader: ReferenceLoader,
    key: bytes,
) -> list[SegmentReading]:
    """The detector's reading of every source segment the suspect covers, in order.

    For each reference frame the suspect frame nearest in time stands in (a 25 or 30 fps copy of a 15 fps camera
    shows each camera frame once or twice). Frames the suspect does not reach are left out, with their weight in the
    mark's fade, so a leak starting mid-segment still reads that segment when it covers most of it.
    """
    if not suspect_frames:
        return []
    references = _References(reference_loader, alignment.source_id)
    registration = _Registered(alignment.homography)
    grey = [_grey(frame) for frame in suspect_frames]
    duration = len(suspect_frames) / suspect_fps
    first, _ = alignment.segment_at(0.0)
    last, _ = alignment.segment_at(duration)
    readings = []
    for index in range(max(0, first), last + 1):
        reference = references(index)
        if not reference:
            continue
        count = len(reference)
        start = index * SEGMENT_SECONDS - alignment.offset
        picks = [round((start + j * SEGMENT_SECONDS / count) * suspect_fps) for j in range(count)]
        shown = [j for j, p in enumerate(picks) if 0 <= p < len(grey)]
        coverage = len(shown) / count
        if coverage < MIN_COVERAGE:
            continue
        weights = fade(count)[shown]
        total = residual([grey[picks[j]] for j in shown], [reference[j] for j in shown], registration, weights)
        z = z_score(project(total), key, alignment.source_id, index)
        readings.append(SegmentReading(alignment.source_id, index, z, start, coverage))
    return readings


# --- attribution ----------------------------------------------------------------------------------------------------


def innocent_probability(readable: int, matches: int) -> float:
    """P(Binomial(readable, 1/2) >= matches): the chance that a session which never had the copy matches as well.

    Assumes an innocent session's variants are independent fair coins with respect to the leaked ones, which holds
    because each variant is one bit of an HMAC under that session's own key.
    """
    if not 0 <= matches <= readable:
        raise ValueError("matches must lie between 0 and the number of readable segments")
    tail = sum(math.comb(readable, i) for i in range(matches, readable + 1))
    return tail / 2**readable


@dataclass(frozen=True, slots=True)
class CandidateScore:
    """How well one candidate's codeword matches the bits read from the suspects."""

    candidate: str
    readable: int
    matches: int
    probability: float  # that an innocent matches at least as well

    @property
    def mismatches(self) -> int:
        return self.readable - self.matches


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a trace: "identified" with the candidate, or "inconclusive" with the reason."""

    outcome: str
    reason: str
    candidate: str | None
    ranking: tuple[CandidateScore, ...]
    # The reason as a code and its numbers, so that a report can say it in the reader's language.
    reason_code: str = ""
    reason_args: Mapping[str, object] = field(default_factory=dict)


Codeword = Mapping[tuple[str, int], Variant]


def score(readings: Iterable[SegmentReading], candidate: str, codeword: Codeword) -> CandidateScore:
    """Matches over the readable segments; a segment the candidate never received counts against them."""
    readable = matches = 0
    for reading in readings:
        variant = reading.variant
        if variant is None:
            continue
        readable += 1
        matches += codeword.get((reading.source_id, reading.index)) is variant
    return CandidateScore(candidate, readable, matches, innocent_probability(readable, matches))


def attribute(readings: Iterable[SegmentReading], codewords: Mapping[str, Codeword]) -> Verdict:
    """Score every candidate (session or account) against the bits of one suspect and decide."""
    readings = list(readings)
    return decide([score(readings, candidate, codeword) for candidate, codeword in codewords.items()])


def decide(
    scores: Iterable[CandidateScore],
    identify_below: float = IDENTIFY_P,
    runner_up_ratio: float = RUNNER_UP_RATIO,
) -> Verdict:
    """Rank candidates by the chance that an innocent matches as well, and name one only when the evidence is clear.

    "identified" needs the best probability below `identify_below` and the runner-up at least `runner_up_ratio` times
    as likely to match by chance. With 15 readable segments the leaker's 2^-15 = 3e-5 then requires the runner-up to
    have at least 3 mismatches (P >= 0.018), which a session that shares no key with the leaker has with odds of
    better than 4,000 to 1; a tie or a near-tie is never a name. The probability is per candidate: with N candidates,
    about N x P innocents would match as well, which the report should show beside it.
    """
    ranking = tuple(sorted(scores, key=lambda s: (s.probability, -s.readable, s.candidate)))
    if not ranking:
        return Verdict("inconclusive", "no candidate received these segments", None, ranking, "no_candidate")
    best = ranking[0]
    if best.probability >= identify_below:
        needed = math.ceil(math.log2(1 / identify_below))
        if best.readable < needed:
            reason = f"too few readable segments ({best.readable}; at least {needed} are needed)"
            args = {"readable": best.readable, "needed": needed}
            return Verdict("inconclusive", reason, None, ranking, "too_few", args)
        reason = f"no candidate matches well enough (best: {best.matches} of {best.readable})"
        args = {"matches": best.matches, "readable": best.readable}
        return Verdict("inconclusive", reason, None, ranking, "weak", args)
    if len(ranking) > 1 and ranking[1].probability < runner_up_ratio * best.probability:
        reason = f"two candidates match equally well ({best.candidate}, {ranking[1].candidate})"
        args = {"first": best.candidate, "second": ranking[1].candidate}
        return Verdict("inconclusive", reason, None, ranking, "tie", args)
    reason = f"{best.matches} of {best.readable} readable segments match"
    args = {"matches": best.matches, "readable": best.readable}
    return Verdict("identified", reason, best.candidate, ranking, "match", args)


def combine(per_suspect: Iterable[Iterable[CandidateScore]]) -> list[CandidateScore]:
    """Evidence of several suspects per account (scores named by account): readable segments and matches add up and
    P is recomputed, so three 8-segment leaks weigh like one 24-segment leak. Pass the result to `decide`."""
    totals: dict[str, tuple[int, int]] = {}
    for scores in per_suspect:
        for found in scores:
            readable, matches = totals.get(found.candidate, (0, 0))
            totals[found.candidate] = (readable + found.readable, matches + found.matches)
    return [CandidateScore(a, n, k, innocent_probability(n, k)) for a, (n, k) in totals.items()]
