"""Registration: the homography that brings a suspect frame into its reference's geometry, and how well they agree.

ORB features with Lowe's ratio test and RANSAC give a first fit, which competes with plain rescaling. A copy may be
cropped hard (up to a third of a side) or filmed off a screen at a slant, so any homography that keeps the picture the
right way round and convex is allowed. ECC then fits all eight parameters densely (the keystone of a phone held at an
angle), and a descent on shift and scale sharpens the result to an eighth of a pixel, which the mark's chips need.
Block correlations say whether the registered pictures agree everywhere (another bed's card, another baby, does not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from cradle.media.mark import luma

# Textured blocks of the picture (8 x 6 per frame) that correlate less than this with the reference show something the
# source never did: another bed's card, another baby. Flat blocks (std below BLOCK_TEXTURE levels) are skipped. The
# third-worst block counts, since a thin moving line (the monitor's trace) can smear in one or two blocks at 300 kbit/s.
BLOCK_GRID = (8, 6)
BLOCK_TEXTURE = 6.0
MIN_BLOCK_CORRELATION = 0.5
MIN_ORB_INLIERS = 12
CLIPPED_LOW, CLIPPED_HIGH = 4, 248  # luma levels at which a suspect's pixel is taken as clipped
ORB_WIDTH = 480
# A homography from ORB is believed only when the suspect lands on at least this share of the reference (a crop of
# 30 % of each side keeps 49 %) and its keystone is at most this share of the picture from the nearest affine map.
MIN_OVERLAP = 0.3
MAX_KEYSTONE = 0.15
ECC_ITERATIONS = 80
RANSAC_SEED = 1  # the same suspect always gives the same evidence
HIDDEN_LEVEL = 30.0  # luma levels by which a pixel differs from the fitted reference in every frame to count as hidden


class Registration:
    """Registration by one homography, with the coverage mask computed once per suspect frame size. `hidden` marks
    reference pixels the copy covers with something of its own (a caption, a sticker), which count as not reached."""

    def __init__(self, homography: np.ndarray, hidden: np.ndarray | None = None) -> None:
        self.homography = np.asarray(homography, np.float64)
        self.hidden = hidden
        self._masks: dict[tuple[int, int, int, int], np.ndarray] = {}

    def covered(self, shape: tuple[int, ...], width: int, height: int) -> np.ndarray:
        """The reference pixels that a suspect frame of `shape` reaches, away from its edges."""
        key = (shape[0], shape[1], width, height)
        if key not in self._masks:
            inside = np.ones(shape[:2], np.uint8)
            covered = cv2.warpPerspective(inside, self.homography, (width, height), flags=cv2.INTER_NEAREST)
            # Edge pixels mix in the zero border; leave them out.
            covered = cv2.erode(covered, np.ones((5, 5), np.uint8)).astype(bool)
            if self.hidden is not None and self.hidden.shape == covered.shape:
                covered = covered & ~self.hidden
            self._masks[key] = covered
        return self._masks[key]

    def __call__(self, suspect: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        image = cv2.warpPerspective(luma(suspect), self.homography, (width, height), flags=cv2.INTER_LINEAR)
        # A leaker's brightness or contrast change clips highlights and shadows, and a clipped pixel carries no mark;
        # left in, it would also skew the brightness fit of the whole frame.
        clipped = ((image <= CLIPPED_LOW) | (image >= CLIPPED_HIGH)).astype(np.uint8)
        clipped = cv2.dilate(clipped, np.ones((5, 5), np.uint8)).astype(bool)
        return image, self.covered(suspect.shape, width, height) & ~clipped


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def rescale_homography(suspect_size: tuple[int, int], reference_size: tuple[int, int]) -> np.ndarray:
    """The homography of a copy that was only rescaled (width, height of each)."""
    sx, sy = reference_size[0] / suspect_size[0], reference_size[1] / suspect_size[1]
    return np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)


def estimate_homography(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray | None, int]:
    """Suspect → reference homography by ORB features and RANSAC over (suspect, reference) frame pairs, pooled.

    Gives None when too few matches agree, or when the result is not a plausible crop, rescale and keystone (turns and
    mirrors are undone by the framing before this), so the caller falls back to plain rescaling. A ward scene is full of
    repeated texture (a card's letters, a monitor's digits), so matches must pass Lowe's ratio test, and the full
    homography competes with an affine fit: whichever leaves the smaller difference between the pictures wins.
    """
    orb = cv2.ORB_create(nfeatures=2000, fastThreshold=10)  # type: ignore[attr-defined]  # missing from cv2's stubs
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    source_points, target_points = [], []
    for suspect, reference in pairs:
        grey_s, grey_r = grey(suspect), grey(reference)
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
    source, target = np.array(source_points, np.float32), np.array(target_points, np.float32)
    reference_height, reference_width = grey(pairs[0][1]).shape[:2]
    reference_size = (reference_width, reference_height)
    suspect_height, suspect_width = grey(pairs[0][0]).shape[:2]
    plain = rescale_homography((suspect_width, suspect_height), (reference_width, reference_height))
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
        if count < MIN_ORB_INLIERS or not plausible(candidate, (suspect_width, suspect_height), reference_size):
            continue
        value = misfit(greys, candidate)
        if value < best_misfit:
            best, best_count, best_misfit = candidate, count, value
    if best is None or best_misfit > misfit(greys, plain):
        return None, best_count
    return best, best_count


def plausible(homography: np.ndarray, suspect_size: tuple[int, int], reference_size: tuple[int, int]) -> bool:
    """Whether a suspect → reference homography is one a re-publisher makes: the picture the right way round and
    convex, at most MAX_KEYSTONE from an affine map, and reaching at least MIN_OVERLAP of the reference."""
    width, height = suspect_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    if np.any(corners @ homography[2, :2] + homography[2, 2] <= 0):
        return False  # a corner beyond the horizon
    moved = cv2.perspectiveTransform(corners[None], homography)[0].astype(np.float64)
    edges = np.roll(moved, -1, axis=0) - moved
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if not np.all(turns > 0):
        return False  # mirrored, or folded over itself
    affine = cv2.getAffineTransform(corners[:3], moved[:3].astype(np.float32))
    fourth = affine @ np.array([0.0, height, 1.0])
    side = max(np.linalg.norm(edges, axis=1).max(), 1.0)
    if np.linalg.norm(fourth - moved[3]) > MAX_KEYSTONE * side:
        return False
    rw, rh = reference_size
    frame = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float32)
    overlap, _ = cv2.intersectConvexConvex(moved.astype(np.float32), frame)
    return overlap >= MIN_OVERLAP * rw * rh


def dense_homography(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], homography: np.ndarray, hidden: np.ndarray | None = None
) -> np.ndarray | None:
    """All eight parameters of the homography fitted densely by ECC on the middle pair (coarse, then at full size),
    from `homography`; None when ECC does not converge or ends implausibly. ECC is blind to brightness and contrast, and
    its smoothing keeps a screen's moiré and the codec's blocks from pulling it."""
    suspect, reference = (luma(image) for image in pairs[len(pairs) // 2])
    height, width = reference.shape
    registration = Registration(homography, hidden)
    mask = registration.covered(suspect.shape, width, height).astype(np.uint8)
    if mask.mean() < MIN_OVERLAP:
        return None
    warp = np.linalg.inv(np.asarray(homography, np.float64))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-6)
    try:
        for factor in (0.5, 1.0):
            down = np.diag([factor, factor, 1.0])
            scaled = (down @ warp @ np.linalg.inv(down)).astype(np.float32)
            size = (round(width * factor), round(height * factor))
            template = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
            shown = suspect
            if factor < 1:
                shown = cv2.resize(suspect, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            small = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
            _, fitted = cv2.findTransformECC(template, shown, scaled, cv2.MOTION_HOMOGRAPHY, criteria, small, 5)
            warp = np.linalg.inv(down) @ np.asarray(fitted, np.float64) @ down
    except cv2.error:
        return None
    found = np.linalg.inv(warp)
    found /= found[2, 2]
    return found if plausible(found, suspect.shape[1::-1], (width, height)) else None


def misfit(pairs: Sequence[tuple[np.ndarray, np.ndarray]], homography: np.ndarray, above: float = math.inf) -> float:
    """Mean squared difference of the registered suspect frames and their references, after a gain and offset fit;
    math.inf as soon as the pairs looked at show it to be above `above` (each pair adds a square, never less), or when
    a suspect lands on none of its reference.

    The fit's residual is var(seen) - cov(reference, seen)^2 / var(reference) over the pixels the suspect reaches, so
    only those moments are taken (summed in double precision, without gathering the pixels): a registration's descent
    asks for this a thousand times a trace."""
    total = 0.0
    masks: dict[tuple[int, ...], np.ndarray] = {}  # the pixels a suspect of each size reaches, found once per call
    for n, (suspect, reference) in enumerate(pairs):
        if n and total > above * len(pairs) * (1 + 1e-9):
            return math.inf
        height, width = reference.shape
        reference = reference.astype(np.float32, copy=False)
        suspect = suspect.astype(np.float32, copy=False)
        seen = cv2.warpPerspective(suspect, homography, (width, height), flags=cv2.INTER_LINEAR)
        size = (*suspect.shape, width, height)
        if size not in masks:
            inside = cv2.warpPerspective(np.ones(suspect.shape, np.uint8), homography, (width, height))
            masks[size] = cv2.erode(inside, np.ones((5, 5), np.uint8))
        inside = masks[size]
        if not cv2.countNonZero(inside):
            return math.inf
        x_mean, x_std = cv2.meanStdDev(reference, mask=inside)
        y_mean, y_std = cv2.meanStdDev(seen, mask=inside)
        product = cv2.mean(cv2.multiply(reference, seen, dtype=cv2.CV_64F), mask=inside)[0]
        covariance = product - float(x_mean[0, 0]) * float(y_mean[0, 0])
        x_var, y_var = float(x_std[0, 0]) ** 2, float(y_std[0, 0]) ** 2
        gain = covariance / max(x_var, 1e-6)
        total += max(0.0, y_var - 2 * gain * covariance + gain * gain * x_var)
    return total / max(1, len(pairs))


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
    score = misfit(greys, best)
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
                value = misfit(greys, candidate, above=score)
                if value < score:
                    best, score, improved = candidate, value, True
    return best / best[2, 2]


def hidden_parts(
    seen: Sequence[np.ndarray], known: Sequence[np.ndarray], covered: np.ndarray, most: float
) -> np.ndarray | None:
    """Reference pixels that the registered suspect frames `seen` show differently from `known` in every frame, as
    a caption or a sticker does (after a brightness and contrast fit); None when there are none, or more than `most`
    of the covered picture (then the suspect shows something else, not the source with a few things on top).

    The fit is made again without the pixels the first fit leaves far off: a caption's band darkens a sixth of the
    picture, and fitted with it the gain is so far off that the whole picture differs (tuning scene 21: 38 % of it
    hidden, no source found)."""
    differences = []
    for image, reference in zip(seen, known, strict=True):
        fitted = _fitted(reference, image, covered)
        close = covered & (np.abs(image.astype(np.float32) - fitted) <= HIDDEN_LEVEL)
        if 2 * np.count_nonzero(close) >= np.count_nonzero(covered):
            fitted = _fitted(reference, image, close)
        differences.append(np.abs(image.astype(np.float32) - fitted))
    persistent = cv2.blur(np.min(differences, axis=0), (7, 7)) > HIDDEN_LEVEL
    hidden = cv2.dilate(persistent.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & covered
    share = hidden.sum() / max(1, covered.sum())
    return hidden if 0 < share <= most else None


def _fitted(reference: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The reference with the gain and offset that best explain `image` over `mask` (least squares)."""
    x, y = reference[mask].astype(np.float32), image[mask].astype(np.float32)
    gain = float(np.mean((x - x.mean()) * (y - y.mean())) / max(float(x.var()), 1e-6))
    return (reference.astype(np.float32) - x.mean()) * gain + y.mean()


def block_correlations(seen: np.ndarray, known: np.ndarray, covered: np.ndarray, usable: np.ndarray) -> np.ndarray:
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
