"""Framing: where the picture sits in a re-published copy, and which way round it is.

Copies are mirrored, turned by quarter turns and put on larger canvases (a 9:16 story over a blurred enlargement of
the picture, a square post over a solid or patterned background, letterbox and pillarbox bars, picture-in-picture).
The fingerprints describe the camera's whole picture the right way round, so the search first finds the picture's box
from the long straight edges that bound it in every frame and from the part of the frame that changes over the clip,
then tries the turns and mirrors of each likely box on a few windows of the suspect, and searches in full only the
framings whose windows resemble something stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cradle.media.fingerprint import POSITIONS, FingerprintIndex, thumbnail

PROBE_WIDTH = 320  # the sampled frames are looked at this wide when finding boxes
EDGE_LEVEL = 10.0  # a Sobel response (of a 0-255 picture) below this is no edge
MIN_SIDE = 0.15  # a box is at least this share of the frame's width and height (a 4:3 picture on a 9:16 story)
MIN_SUPPORT = 0.4  # share of a box's side that must run along an edge (half of it, over a checked background)
# Boxes tried besides the whole frame. Over foreign footage, whose own lines run as fully along their length, an
# inset's box ranked 15th of 56 by its edges; only the probe below tells the picture's box from the footage's.
BOXES = 20
# Mean absolute change over the clip (0-255 luma, PROBE_WIDTH wide, 5 x 5 mean) above which a pixel shows the picture:
# a solid or checked background changes by under 0.5 (re-encoding), a ward picture by 3-30 at its moving parts.
MOVING_LEVEL = 1.5
# Share of the frame above which what moves is taken as all of it (a blurred enlargement of the picture or foreign
# footage behind it moves too): no box then comes from motion.
MOVING_WHOLE = 0.85
PROBE_WINDOWS = 3  # windows of the suspect the framings are compared on (an odd number: see `framings`)
# The median best similarity of a framing's probe windows at which it is searched in full. Lower than the search's
# own gate: a box a few pixels off or a caption over a fifth of the picture lowers it, and every source found is
# confirmed against its reference frames anyway.
PROBE_SIMILARITY = 0.75
QUADS = 3  # slanted outlines tried
# A box this much wider than high (or higher than wide) is taken to hold the 4:3 picture upright (or turned a
# quarter); between them, both are tried.
TURN_MARGIN = 0.1
CROP_SHARES = (1.0, 0.85, 0.72)  # shares of a side that a hard crop keeps, as the search tries them


@dataclass(frozen=True, slots=True)
class Framing:
    """How to bring a suspect frame back to the camera's picture: crop to `box` (x0, y0, x1, y1 as shares of the
    frame), turn by `turns` quarter turns clockwise, then mirror left to right if `mirror`."""

    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    turns: int = 0
    mirror: bool = False
    # A screen filmed at a slant: the picture's corners (top left, top right, bottom right, bottom left, as shares of
    # the frame), straightened onto a rectangle before the turn and the mirror; `box` is then left whole.
    quad: tuple[float, ...] | None = None

    @property
    def identity(self) -> bool:
        return self.box == (0.0, 0.0, 1.0, 1.0) and not self.turns and not self.mirror and self.quad is None

    @property
    def pads(self) -> bool:
        """Whether the box reaches beyond the frame: the copy is a crop of the picture, and the framing puts it back
        where it was in the camera's picture, with the rest a flat grey (for the search only; the alignment reads the
        crop as it is, since registration brings any crop back)."""
        x0, y0, x1, y1 = self.box
        return x0 < 0 or y0 < 0 or x1 > 1 or y1 > 1

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The frame as the camera showed it."""
        if self.identity:
            return image
        height, width = image.shape[:2]
        x0, y0, x1, y1 = self.box
        if self.quad is not None:
            corners = np.array(self.quad, np.float32).reshape(4, 2) * [width, height]
            across = (np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])) / 2
            down = (np.linalg.norm(corners[3] - corners[0]) + np.linalg.norm(corners[2] - corners[1])) / 2
            size = (max(8, round(across)), max(8, round(down)))
            target = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], np.float32)
            matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
            image = cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        elif self.pads:
            left, top = round(-x0 * width), round(-y0 * height)
            canvas = np.full((round((y1 - y0) * height), round((x1 - x0) * width), *image.shape[2:]), image.mean())
            canvas = canvas.astype(image.dtype)
            canvas[top : top + height, left : left + width] = image[: canvas.shape[0] - top, : canvas.shape[1] - left]
            return canvas
        image = image[round(y0 * height) : round(y1 * height), round(x0 * width) : round(x1 * width)]
        if self.turns:
            image = np.rot90(image, k=-self.turns)
        if self.mirror:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)

    def describe(self) -> str:
        """A few words for the report ("as is", "mirrored, turned 90°, in a box of 56 % x 42 %")."""
        parts = []
        if self.mirror:
            parts.append("mirrored")
        if self.turns:
            parts.append(f"turned {90 * self.turns}°")
        x0, y0, x1, y1 = self.box
        if self.quad is not None:
            parts.append("a screen filmed at a slant")
        elif (x0, y0, x1, y1) != (0.0, 0.0, 1.0, 1.0):
            parts.append(f"in a box of {x1 - x0:.0%} x {y1 - y0:.0%} at ({x0:.0%}, {y0:.0%})")
        return ", ".join(parts) or "as is"


IDENTITY = Framing()


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _lines(strength: np.ndarray, count: int, spacing: int) -> list[int]:
    """The `count` strongest positions of a profile, at least `spacing` apart."""
    order = np.argsort(-strength)
    chosen: list[int] = []
    for position in order:
        if strength[position] <= 0 or len(chosen) == count:
            break
        if all(abs(int(position) - c) >= spacing for c in chosen):
            chosen.append(int(position))
    return chosen


def _sampled(frames: Sequence[np.ndarray], count: int = 8) -> np.ndarray:
    """Up to `count` grey frames spread over the clip, PROBE_WIDTH wide at most (float32, stacked)."""
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    height, width = _grey(frames[0]).shape[:2]
    scale = min(1.0, PROBE_WIDTH / width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    shrunk = [cv2.resize(_grey(frames[i]), size, interpolation=cv2.INTER_AREA) for i in picks]
    return np.stack(shrunk).astype(np.float32)


def _mean_picture(frames: Sequence[np.ndarray]) -> np.ndarray:
    """The grey mean of up to eight frames spread over the clip: what stays put in it (a picture's edges, a screen's
    outline) stands out, what moves blurs away."""
    return _sampled(frames).mean(axis=0)


def moving_box(frames: Sequence[np.ndarray]) -> tuple[float, float, float, float] | None:
    """The box around what changes over the clip, as shares of the frame; None when nothing or nearly everything does.

    A picture on a still background (solid, checked, a letterbox) is the only part of the frame that changes, however
    busy the background's own lines are; the edge lines of `boxes` can then miss it among the background's lines.
    """
    if len(frames) < 2:
        return None
    sampled = _sampled(frames, 16)
    change = cv2.blur(np.abs(sampled - sampled.mean(axis=0)).mean(axis=0), (5, 5))
    moving = change > MOVING_LEVEL
    if not moving.any() or moving.mean() > MOVING_WHOLE:
        return None
    height, width = moving.shape
    # A few stray pixels (a re-encoding flicker on the background) must not stretch the box.
    ys, xs = np.nonzero(moving)
    x0, x1 = np.quantile(xs, [0.002, 0.998])
    y0, y1 = np.quantile(ys, [0.002, 0.998])
    # The 5 x 5 mean spreads the change 2 pixels beyond the picture; the frame's own border stays where it is.
    x0, y0 = (v + 2 if v > 0 else 0.0 for v in (x0, y0))
    x1, y1 = (v - 2 if v < last else last for v, last in ((x1, width - 1), (y1, height - 1)))
    box = (float(x0) / width, float(y0) / height, (float(x1) + 1) / width, (float(y1) + 1) / height)
    if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE or (box[2] - box[0]) * (box[3] - box[1]) > MOVING_WHOLE:
        return None
    return box


def boxes(frames: Sequence[np.ndarray], limit: int = BOXES) -> list[tuple[float, float, float, float]]:
    """Likely boxes of the picture inside the frame (not the whole frame), best first, as shares of the frame.

    The picture's edges are straight lines that stay put from frame to frame, so they are looked for in the mean of a
    few frames: columns and rows along which the gradient peaks over a long run. A box is scored by how much of each
    of its sides runs along such a line (the frame's own border counts as a line).
    """
    if not frames:
        return []
    mean = _mean_picture(frames).astype(np.float32)
    gx = np.abs(cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3)) / 4
    gy = np.abs(cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3)) / 4
    h, w = mean.shape
    # An edge pixel of a vertical line: a strong horizontal gradient that peaks across the line (one pixel either
    # side allowed, as the line may fall between two pixels).
    vertical = (gx >= EDGE_LEVEL) & (gx >= np.roll(gx, 1, axis=1)) & (gx >= np.roll(gx, -1, axis=1))
    horizontal = (gy >= EDGE_LEVEL) & (gy >= np.roll(gy, 1, axis=0)) & (gy >= np.roll(gy, -1, axis=0))
    vertical = vertical | np.roll(vertical, 1, axis=1) | np.roll(vertical, -1, axis=1)
    horizontal = horizontal | np.roll(horizontal, 1, axis=0) | np.roll(horizontal, -1, axis=0)
    columns = [0, w - 1, *_lines(vertical.sum(axis=0).astype(float), 12, max(2, w // 25))]
    rows = [0, h - 1, *_lines(horizontal.sum(axis=1).astype(float), 12, max(2, h // 25))]
    columns, rows = sorted(set(columns)), sorted(set(rows))

    def side(line: np.ndarray, start: int, stop: int) -> float:
        """How much more a line runs along a side than beyond its ends: a picture's edge stops at its corners,
        while the lines of a checked or striped background run on."""
        inside = float(line[start:stop].mean())
        beyond = np.concatenate([line[:start], line[stop:]])
        return inside - (float(beyond.mean()) if len(beyond) > 4 else 0.0)

    # Two rankings, each good where the other is weak: how fully the sides run along edges (a solid or blurred
    # background), and how much more they do than the lines beyond their ends (a checked background).
    by_edges: list[tuple[float, tuple[int, int, int, int]]] = []
    by_ends: list[tuple[float, tuple[int, int, int, int]]] = []
    for i, left in enumerate(columns):
        for right in columns[i + 1 :]:
            if right - left < MIN_SIDE * w:
                continue
            for j, top in enumerate(rows):
                for bottom in rows[j + 1 :]:
                    if bottom - top < MIN_SIDE * h or (left == 0 and right == w - 1 and top == 0 and bottom == h - 1):
                        continue
                    aspect = (right - left) / (bottom - top)
                    if not 0.4 <= aspect <= 2.6:
                        continue
                    # The frame's own border is no evidence either way.
                    support = [
                        None if left == 0 else side(vertical[:, left], top, bottom),
                        None if right == w - 1 else side(vertical[:, right], top, bottom),
                        None if top == 0 else side(horizontal[top], left, right),
                        None if bottom == h - 1 else side(horizontal[bottom], left, right),
                    ]
                    inner = [v for v in support if v is not None]
                    along = [
                        1.0 if left == 0 else float(vertical[top:bottom, left].mean()),
                        1.0 if right == w - 1 else float(vertical[top:bottom, right].mean()),
                        1.0 if top == 0 else float(horizontal[top, left:right].mean()),
                        1.0 if bottom == h - 1 else float(horizontal[bottom, left:right].mean()),
                    ]
                    box = (left, top, right, bottom)
                    if min(along) >= MIN_SUPPORT:
                        by_edges.append((float(np.mean(along)), box))
                    if min(inner) >= MIN_SUPPORT / 2:
                        by_ends.append((sum(inner) / 4 + 0.1 * (4 - len(inner)), box))
    by_edges.sort(key=lambda s: -s[0])
    by_ends.sort(key=lambda s: -s[0])
    # What moves on a still background comes first: it does not depend on the background's own lines.
    moving = moving_box(frames)
    found: list[tuple[float, float, float, float]] = [] if moving is None else [moving]
    alternate = [pair for both in zip(by_edges, by_ends, strict=False) for pair in both]
    longer = by_edges if len(by_edges) > len(by_ends) else by_ends
    for _, (left, top, right, bottom) in alternate + longer[len(alternate) // 2 :]:
        # Inside the lines: the edge pixel itself belongs to neither side.
        box = ((left + 1) / w if left else 0.0, (top + 1) / h if top else 0.0,
               right / w if right < w - 1 else 1.0, bottom / h if bottom < h - 1 else 1.0)  # fmt: skip
        if all(max(abs(a - b) for a, b in zip(box, other, strict=True)) > 0.03 for other in found):
            found.append(box)
        if len(found) == limit:
            break
    return found


def quads(frames: Sequence[np.ndarray], limit: int = QUADS) -> list[tuple[float, ...]]:
    """Likely corners of a picture filmed at a slant (a phone recording a screen), largest first, as shares of the
    frame: the outlines in the mean of a few frames, each simplified to four corners when it has that shape."""
    if not frames:
        return []
    mean = cv2.GaussianBlur(_mean_picture(frames).astype(np.uint8), (5, 5), 0)
    size = (mean.shape[1], mean.shape[0])
    _, bright = cv2.threshold(mean, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.dilate(cv2.Canny(mean, 20, 60), np.ones((3, 3), np.uint8))
    outlines: list[np.ndarray] = []
    for mask, mode in ((bright, cv2.RETR_EXTERNAL), (edges, cv2.RETR_LIST)):
        contours, _ = cv2.findContours(mask, mode, cv2.CHAIN_APPROX_SIMPLE)
        outlines += list(contours)
    area = size[0] * size[1]
    found: list[tuple[float, np.ndarray]] = []
    for outline in outlines:
        hull = cv2.convexHull(outline)
        share = cv2.contourArea(hull) / area
        if not MIN_SIDE**2 <= share <= 0.95:
            continue
        corners = cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True).reshape(-1, 2).astype(np.float32)
        if len(corners) != 4:
            continue
        # In order: top left first (smallest x + y), then round the way the image's axes go (clockwise on screen).
        centre = corners.mean(axis=0)
        corners = corners[np.argsort(np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0]))]
        corners = np.roll(corners, -int(np.argmin(corners.sum(axis=1))), axis=0) / [size[0], size[1]]
        if all(np.abs(corners - other).max() > 0.03 for _, other in found):
            found.append((share, corners))
    found.sort(key=lambda f: -f[0])
    return [tuple(float(v) for v in corners.ravel()) for _, corners in found[:limit]]


def crops() -> list[tuple[float, float, float, float]]:
    """Boxes that put a crop of the picture (CROP_SHARES of each side kept, at either end or in the middle) back where
    it was in the whole picture; as shares of the suspect frame, reaching beyond it."""
    found = []
    for kept_x in CROP_SHARES:
        for kept_y in CROP_SHARES:
            if kept_x == kept_y == 1.0:
                continue
            for at_x in (0.0, 0.5, 1.0) if kept_x < 1 else (0.0,):
                for at_y in (0.0, 0.5, 1.0) if kept_y < 1 else (0.0,):
                    left, top = at_x * (1 - kept_x), at_y * (1 - kept_y)
                    found.append((-left / kept_x, -top / kept_y, (1 - left) / kept_x, (1 - top) / kept_y))
    return found


def framings(
    frames: Sequence[np.ndarray], fps: float, index: FingerprintIndex, floor: float = PROBE_SIMILARITY
) -> list[tuple[float, Framing]]:
    """Framings worth a full search ("as is" among them, for a search below the usual gate), with their probe
    similarity, best first; only those whose probe reaches `floor` (at least PROBE_SIMILARITY).

    Each of the eight turns and mirrors of the whole frame and of each likely box is fingerprinted on a few windows
    of the suspect, and all of them are looked up in the index in one pass.
    """
    if not frames or not len(index):
        return []
    duration = len(frames) / fps
    starts = np.linspace(0, max(0.0, duration - 1.0), PROBE_WINDOWS)
    # The frames each probe window's fingerprint looks at (a sixth, a half and five sixths of its second), and a
    # second either side for suspect_windows to pick from.
    wanted = sorted({min(len(frames) - 1, round((s + p) * fps)) for s in starts for p in (1 / 6, 1 / 2, 5 / 6)})
    # Thumbnails are 12 x 9: frames PROBE_WIDTH wide still give a box of MIN_SIDE 48 pixels across, and each framing
    # costs a quarter of what it does at 640 (framings of a 416 x 739 copy: 3.3 s of CPU, 0.74 of it thumbnails).
    scale = min(1.0, PROBE_WIDTH / frames[0].shape[1])
    shrunk = (max(8, round(frames[0].shape[1] * scale)), max(8, round(frames[0].shape[0] * scale)))
    small = {i: cv2.resize(frames[i], shrunk, interpolation=cv2.INTER_AREA) if scale < 1 else frames[i] for i in wanted}
    height, width = frames[0].shape[:2]
    candidates = [
        Framing(box, turns, mirror)
        for box in [(0.0, 0.0, 1.0, 1.0), *boxes(frames)]
        for turns in _turns(box, width, height)
        for mirror in (False, True)
    ]
    candidates += [
        Framing(quad=q, turns=t, mirror=m) for q in quads(frames) for t in _turns(_outer(q), width, height)
        for m in (False, True)
    ]  # fmt: skip
    candidates += [Framing(box) for box in crops()]
    vectors, owners = [], []
    for n, framing in enumerate(candidates):
        shown = [framing.apply(small[i]) for i in wanted]
        windows = _probe_windows(shown, [i / fps for i in wanted], starts)
        vectors.append(windows)
        owners += [n] * len(windows)
    # Only whether a framing's median reaches the floor counts, and the median of an odd number of windows is
    # one of them: rows that cannot reach it are not scored (the store's look-alike groups only).
    floor = max(PROBE_SIMILARITY, floor)
    best = index.best_similarity(np.concatenate(vectors), floor=floor)
    owners_array = np.asarray(owners)
    scored = []
    for n, framing in enumerate(candidates):
        value = float(np.median(best[owners_array == n]))
        if value >= floor:
            scored.append((value, framing))
    scored.sort(key=lambda s: -s[0])
    return scored


def _turns(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, ...]:
    """The quarter turns worth trying for a picture in `box` (shares of a `width` x `height` frame): the camera's
    picture is wider than high, so a box clearly wider than high holds it upright or upside down, and a box clearly
    higher than wide holds it turned a quarter or upright but cropped to a portrait; the whole frame may hold a
    stretched picture any way round."""
    if box == (0.0, 0.0, 1.0, 1.0):
        return (0, 1, 2, 3)
    aspect = (box[2] - box[0]) * width / max(1e-6, (box[3] - box[1]) * height)
    if aspect > 1 + TURN_MARGIN:
        return (0, 2)
    if aspect < 1 - TURN_MARGIN:
        return (0, 1, 3)
    return (0, 1, 2, 3)


def _outer(quad: tuple[float, ...]) -> tuple[float, float, float, float]:
    xs, ys = quad[0::2], quad[1::2]
    return (min(xs), min(ys), max(xs), max(ys))


def _probe_windows(images: list[np.ndarray], times: list[float], starts: np.ndarray) -> np.ndarray:
    """Fingerprints of 1 s windows starting at `starts`, from the few frames at `times`."""
    thumbs = np.stack([thumbnail(image) for image in images])
    at = np.asarray(times)
    rows = []
    for start in starts:
        picks = [int(np.argmin(np.abs(at - (start + p)))) for p in POSITIONS]
        rows.append(thumbs[picks].ravel() / np.sqrt(len(POSITIONS)))
    return np.asarray(rows, np.float32)
