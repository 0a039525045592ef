"""A pool of detector workers shared by all cameras on a machine."""

from __future__ import annotations

import itertools
import math
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from cradle.media.errors import DetectorFailed
from cradle.media.frames import Box
from cradle.media.redact.faint import faint_like, faint_rows
from cradle.media.redact.likeness import ink_margin, outside, text_like
from cradle.media.redact.masks import as_quad
from cradle.media.redact.parts import TiledLook
from cradle.media.redact.small import enlarged, stacks
from cradle.media.redact.text import TILE_PX


class Detector(Protocol):
    """Anything that finds regions to mask in a BGR frame."""

    def detect(self, image: np.ndarray) -> list: ...  # upright boxes or 4x2 quadrilaterals, in pixels


# Neighbouring tiles overlap by this much, so a line on a tile's edge is whole in one of them.
TILE_OVERLAP_PX = 64
# A text-like row the detector's lines already cover this much of adds nothing.
COVERED_SHARE = 0.8
# A line found within this many pixels of a crop's edge (where that is not the picture's) is cut by the crop: the
# card it is on may go on beyond, in cells the motion grid did not see change (a faint card carried fast over ground
# of its own grey). The crop is looked at again grown by WIDEN_LINES of the cut line's height on every side, at most
# WIDEN_TIMES times, and the lines of the same type (height and tilt, as masks.blocks joins them) are added.
CUT_PX = 3
WIDEN_LINES = 8
WIDEN_TIMES = 2


def tiles(width: int, height: int, tile: int = TILE_PX, overlap: int = TILE_OVERLAP_PX) -> list[Box]:
    """Boxes of at most `tile` pixels a side covering a width x height picture, overlapping by `overlap`."""

    def starts(size: int) -> list[int]:
        if size <= tile:
            return [0]
        count = math.ceil((size - overlap) / (tile - overlap))
        step = (size - tile) / (count - 1)
        return [round(i * step) for i in range(count)]

    return [(x, y, min(width, x + tile), min(height, y + tile)) for y in starts(height) for x in starts(width)]


@dataclass(slots=True)
class WardDetectors:
    """The detectors one worker owns: text always, faces only when a camera asks for them."""

    text: Detector
    faces: Detector | None = None

    def detect(
        self,
        image: np.ndarray,
        faces: bool,
        side: int = 0,
        region: Box | None = None,
        likeness: bool = False,
        known: Sequence[np.ndarray] = (),
        lines: Sequence[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Quadrilaterals (4x2, `image`'s pixels) of text and, when `faces`, of faces.

        With `side` 0 text is found at the camera's own resolution, tile by tile; with a `side`, on a copy scaled
        so that the whole frame's longer side would be `side`, so a crop (`region`, a box in `image`) is scaled
        like the frame it comes from. With `likeness`, rows
        of character-like marks that no detected line covers are added (redact/likeness.py), and faint rows that
        touch no line at all (redact/faint.py). A crop that cuts a line
        is looked at again, wider (`_widened`), unless the line is one of the `known` ones (quadrilaterals an earlier
        look found and that still stand: a card at rest beside the crop, whose lines are masked anyway).
        `lines`: the detector's lines in `region`, already found tile by tile (`look_tiles`, `tile_lines`).
        """
        height, width = image.shape[:2]
        x0, y0, x1, y1 = region or (0, 0, width, height)
        crop = image[y0:y1, x0:x1]
        box = (x0, y0, x1, y1)
        found = [q - np.array([x0, y0], np.float32) for q in self._widened(image, side, box, known, lines)]
        if likeness:
            detected = list(found)
            # On the picture as it is: contrast normalisation would turn a dark frame's sensor noise into "glyphs".
            margin = ink_margin(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop)
            like = text_like(crop, margin)
            rows = faint_rows(crop, margin)
            faint = faint_like(crop, like, margin, rows)
            shape = crop.shape[:2]
            found += outside(like, found, shape, COVERED_SHARE) + outside(faint, found, shape)
            # Stacks of tiny faint rows no line covers: looked at again at twice the size (small.py).
            for box in stacks(rows, detected) if rows is not None else ():
                found += enlarged(self.text.detect, crop, box)
        if faces:
            if self.faces is None:
                raise DetectorFailed("face detection was asked for but no face detector is loaded")
            found += [as_quad(box) for box in self.faces.detect(crop)]
        return [q + np.array([x0, y0], np.float32) for q in found]

    def _lines(self, image: np.ndarray, side: int, box: Box) -> list[np.ndarray]:
        """The text detector's lines in `box` of `image` (quadrilaterals in `image`'s pixels)."""
        height, width = image.shape[:2]
        x0, y0, x1, y1 = box
        crop = image[y0:y1, x0:x1]
        scale = side / max(height, width) if side else 1.0
        found: list[np.ndarray] = []
        if scale < 1.0:
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            found = [as_quad(q) / scale + np.array([x0, y0], np.float32) for q in self.text.detect(small)]
        else:
            for tile in tiles(x1 - x0, y1 - y0):
                found += self.tile_lines(image, box, tile)
        return found

    def tile_lines(self, image: np.ndarray, box: Box, tile: Box) -> list[np.ndarray]:
        """The detector's lines in one tile (a box in the crop `box` of `image`), at native resolution, in `image`'s
        pixels."""
        x0, y0 = box[0], box[1]
        tx0, ty0, tx1, ty1 = tile
        offset, origin = np.array([tx0, ty0], np.float32), np.array([x0, y0], np.float32)
        # (In the tile, then in the crop, then in the image: the arithmetic of a look made in one piece.)
        return [as_quad(q) + offset + origin for q in self.text.detect(image[y0 + ty0 : y0 + ty1, x0 + tx0 : x0 + tx1])]

    def _widened(
        self,
        image: np.ndarray,
        side: int,
        box: Box,
        known: Sequence[np.ndarray],
        lines: Sequence[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """The lines in `box` (`lines`, when they were found already), and, beyond each edge of a crop that cuts some
        of them that are not `known`, the lines of the same type (CUT_PX, WIDEN_LINES): the card goes on that way."""
        height, width = image.shape[:2]
        found = self._lines(image, side, box) if lines is None else list(lines)
        for _ in range(WIDEN_TIMES):
            cut, edges = _cut([q for q in found if not _known(q, known)], box, (width, height))
            if not cut:
                break
            reach = WIDEN_LINES * max(_height(q) for q in cut)
            x0, y0, x1, y1 = box
            wider = (
                max(0, math.floor(x0 - reach)) if "left" in edges else x0,
                max(0, math.floor(y0 - reach)) if "top" in edges else y0,
                min(width, math.ceil(x1 + reach)) if "right" in edges else x1,
                min(height, math.ceil(y1 + reach)) if "bottom" in edges else y1,
            )
            # The lines that reach beyond the crop already looked at (those within it were found there).
            found += [q for q in self._lines(image, side, wider) if _alike(q, cut) and not _within(q, box)]
            box = wider
        return found


def _cut(lines: list[np.ndarray], box: Box, size: tuple[int, int]) -> tuple[list[np.ndarray], set[str]]:
    """The lines that reach an edge of the crop `box` where the picture (width, height) goes on beyond it, and
    those edges."""
    x0, y0, x1, y1 = box
    width, height = size
    out, edges = [], set()
    for quad in lines:
        (lx0, ly0), (lx1, ly1) = quad.min(axis=0), quad.max(axis=0)
        reached = {
            edge
            for edge, cuts in (
                ("left", x0 > 0 and lx0 <= x0 + CUT_PX),
                ("top", y0 > 0 and ly0 <= y0 + CUT_PX),
                ("right", x1 < width and lx1 >= x1 - CUT_PX),
                ("bottom", y1 < height and ly1 >= y1 - CUT_PX),
            )
            if cuts
        }
        if reached:
            out.append(quad)
            edges |= reached
    return out, edges


def _within(quad: np.ndarray, box: Box) -> bool:
    (lx0, ly0), (lx1, ly1) = quad.min(axis=0), quad.max(axis=0)
    return box[0] <= lx0 and box[1] <= ly0 and lx1 <= box[2] and ly1 <= box[3]


def _known(quad: np.ndarray, known: Sequence[np.ndarray]) -> bool:
    """True when the line's centre lies in the upright box of a `known` line, grown by half the line's height."""
    if not len(known):
        return False
    cx, cy = quad.mean(axis=0)
    pad = _height(quad) / 2
    for line in known:
        (x0, y0), (x1, y1) = line.min(axis=0), line.max(axis=0)
        if x0 - pad <= cx <= x1 + pad and y0 - pad <= cy <= y1 + pad:
            return True
    return False


def _height(quad: np.ndarray) -> float:
    return float(min(cv2.minAreaRect(quad)[1]))


def _alike(quad: np.ndarray, lines: list[np.ndarray]) -> bool:
    """True when `quad` has about the height and tilt of one of `lines` (a line of the same card)."""
    (_, (w, h), angle) = cv2.minAreaRect(quad)
    if w < h:
        w, h, angle = h, w, angle + 90
    for line in lines:
        (_, (lw, lh), langle) = cv2.minAreaRect(line)
        if lw < lh:
            lw, lh, langle = lh, lw, langle + 90
        turn = abs(angle - langle) % 180
        if max(h, lh) <= 2 * min(h, lh) and min(turn, 180 - turn) <= 12:
            return True
    return False


def look_tiles(shape: tuple[int, ...], side: int, region: Box | None) -> list[Box]:
    """The tiles (boxes in the crop) a look at `region` of a picture of `shape` runs the detector on at native
    resolution; none for a look at a scaled copy."""
    height, width = shape[:2]
    x0, y0, x1, y1 = region or (0, 0, width, height)
    if side and side / max(height, width) < 1.0:
        return []
    return tiles(x1 - x0, y1 - y0)


def default_detectors(faces: bool = False) -> Callable[[], WardDetectors]:
    """A factory that loads rapidocr (and CenterFace when `faces`) once per worker."""

    def build() -> WardDetectors:
        from cradle.media.redact.text import TextDetector

        face = None
        if faces:
            from cradle.media.redact.faces import FaceDetector

            face = FaceDetector()
        return WardDetectors(TextDetector(), face)

    return build


_CROP, _WHOLE, _STOP = 0, 1, 2


class DetectorPool:
    """Runs detections on worker threads; onnxruntime releases the GIL, so threads use every core."""

    def __init__(
        self,
        build: Callable[[], WardDetectors] | None = None,
        workers: int | None = None,
        backlog: int | None = None,
    ) -> None:
        self._build = build or default_detectors()
        self.workers = workers or max(1, os.cpu_count() or 1)
        # A short queue: a detection that would wait long is worth less than a privacy screen now. Crops of moved
        # regions go first: they are cheap and frames are screened until they are back, while a whole-frame
        # refresh has the hold window's slack (CameraPolicy.max_age).
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._backlog = backlog or 4 * self.workers
        self._waiting = 0  # looks queued and not begun (a look cut into tiles counts once, until its first tile)
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._closed = False
        self._cameras = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"detector-{i}", daemon=True) for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stagger(self, period: int) -> int:
        """A phase in [0, period) for the next camera, so cameras started together do not all ask for a
        whole-frame detection on the same frame (a burst that would make the last ones late)."""
        return next(self._cameras) * 7 % period

    def submit(
        self,
        image: np.ndarray,
        faces: bool = False,
        side: int = 0,
        region: Box | None = None,
        likeness: bool = False,
        known: Sequence[np.ndarray] = (),
    ) -> Future:
        """A future of the boxes in `image` (only in `region` when given; `known`: see WardDetectors.detect); it
        fails at once when the pool is closed or overloaded. `image` is read later by a worker, so the caller must
        not change it."""
        future: Future = Future()
        if self._closed:
            future.set_exception(DetectorFailed("the detector pool is closed"))
            return future
        rank = _CROP if region is not None else _WHOLE
        job = (image, faces, side, region, likeness, known, future)
        parts = look_tiles(image.shape, side, region)
        with self._lock:
            if self._waiting >= self._backlog:
                future.set_exception(DetectorFailed("the detector pool is overloaded"))
                return future
            self._waiting += 1
            # At native resolution over several tiles, each tile is a job, so the workers share the look (parts.py):
            # its first tile is queued as the look would be, the others once it has begun.
            queued = (TiledLook(job, parts), 0) if len(parts) > 1 else job
            self._jobs.put((rank, next(self._order), queued))
        return future

    def _work(self) -> None:
        detectors: WardDetectors | None = None
        build_error: BaseException | None = None
        while True:
            _rank, _order, job = self._jobs.get()
            if job is None:
                return
            tiled, part = job if isinstance(job[0], TiledLook) else (None, 0)
            image, faces, side, region, likeness, known, future = job if tiled is None else tiled.job
            going, first = (future.set_running_or_notify_cancel(), True) if tiled is None else tiled.start()
            if first:
                with self._lock:
                    self._waiting -= 1
                    if tiled is not None and going:
                        # The look has begun: its other tiles go ahead of crops asked for from now on (as a look made
                        # in one piece would), so a stream of crops cannot hold it back past the hold window.
                        for other in range(1, len(tiled.tiles)):
                            self._jobs.put((_CROP, next(self._order), (tiled, other)))
            if not going:
                continue
            try:
                if detectors is None and build_error is None:
                    try:
                        detectors = self._build()
                    except Exception as exc:
                        build_error = exc
                if detectors is None:  # (its building failed)
                    raise DetectorFailed(f"the detector could not be loaded: {build_error}") from build_error
                if tiled is None:
                    future.set_result(detectors.detect(image, faces, side, region, likeness, known=known))
                elif not hasattr(detectors, "tile_lines"):
                    # Detectors that look only in one piece (a bench's, a test's): the first part makes the look.
                    if part == 0:
                        tiled.finish(detectors.detect(image, faces, side, region, likeness, known=known))
                else:
                    height, width = image.shape[:2]
                    box = region or (0, 0, width, height)
                    lines = tiled.found(part, detectors.tile_lines(image, box, tiled.tiles[part]))
                    if lines is not None:  # the last tile: the rest of the look, on the lines of them all
                        tiled.finish(detectors.detect(image, faces, side, region, likeness, known, lines=lines))
            except BaseException as exc:
                if tiled is None:
                    future.set_exception(exc)
                else:
                    tiled.finish(error=exc)

    def close(self, wait: bool = False) -> None:
        """Stop the workers once queued work is done: waiting for them up to 5 s each, or until they have
        stopped with `wait` (before the process exits: a detector thread still running then aborts it)."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._jobs.put((_STOP, next(self._order), None))
        for thread in self._threads:
            thread.join(timeout=None if wait else 5)

    def __enter__(self) -> DetectorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
