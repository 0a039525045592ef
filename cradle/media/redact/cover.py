"""A frame's coverage from the regions that mask it, made again only when they change.

A look's regions stand unchanged on every frame it vouches for (its cells have not changed), so a quiet picture
masks the same regions frame after frame. Growing a region (masks.grow) costs about half a millisecond and joining
30 lines into blocks (masks.line_cover) 2-4 ms; both are kept while the very same regions stand.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from cradle.media.redact import masks
from cradle.media.redact.policy import CameraPolicy

# Regions kept for the next frames by each memory keyed by region (Coverer.grown; release.py keeps two more).
GROWN_KEPT = 2000


class Coverer:
    """The grown regions and the coverage of one camera's last frame, kept for the frames that follow."""

    def __init__(self) -> None:
        # Each found region grown on the first frame that masks it, by identity.
        self._grown: dict[int, tuple[masks.Region, np.ndarray]] = {}
        # The last frame's coverage and what it was made of (grown regions, loose polygons, policy, size).
        self._coverage: tuple[list[np.ndarray], list[bytes], CameraPolicy, tuple[int, int], np.ndarray] | None = None
        # Lines' shapes and the bridges between them, by their polygons (masks.blocks): the same lines are joined
        # into the same blocks frame after frame while the looks that found them stand.
        self._blocks: dict = {}
        # The last lines and blocks layer (masks.line_cover) and the grown regions and frame size it was made of.
        self._lines: tuple[list[np.ndarray], tuple[int, int], np.ndarray] | None = None

    def grown(self, region: masks.Region, policy: CameraPolicy, grey: Callable[[], np.ndarray]) -> np.ndarray:
        """`region` grown by masks.grow (on the grey picture `grey` makes, when first asked), the same object for as
        long as the same region is asked for."""
        kept = self._grown.get(id(region))
        if kept is not None and kept[0] is region:
            return kept[1]
        if len(self._grown) > GROWN_KEPT:
            self._grown.clear()
        grown = masks.grow(region, policy, grey())
        self._grown[id(region)] = (region, grown)
        return grown

    def coverage(
        self,
        shape: tuple[int, int],
        policy: CameraPolicy,
        grown: list[np.ndarray],
        polygons: list[np.ndarray],
        extra: np.ndarray | None,
        lines: list[masks.Region],
    ) -> np.ndarray:
        """masks.coverage, or the last frame's when it was made of the very same grown regions (the same objects,
        kept by `grown`, so grown from the very same lines), the same loose polygons and policy, and no partly masked
        region. When only the loose polygons or the partly masked regions differ, the last lines and blocks
        (masks.line_cover, the costly part) are reused under them."""
        loose = [p.tobytes() for p in polygons]
        kept = self._coverage
        if (
            extra is None
            and kept is not None
            and kept[2] is policy
            and kept[3] == shape
            and _same(kept[0], grown)
            and kept[1] == loose
        ):
            return kept[4]
        lines_kept = self._lines
        if lines_kept is not None and lines_kept[1] == shape and _same(lines_kept[0], grown):
            layer = lines_kept[2]
        else:
            layer = masks.line_cover(shape, grown, lines, self._blocks)
            layer.flags.writeable = False
            self._lines = (grown, shape, layer)
        covered = masks.coverage(shape, policy, (), polygons, extra, base=layer)
        # Frames share it (as a repeated frame shares its predecessor's); nothing may change it.
        covered.flags.writeable = False
        self._coverage = None if extra is not None else (grown, loose, policy, shape, covered)
        return covered


def _same(kept: list[np.ndarray], grown: list[np.ndarray]) -> bool:
    """The very same grown regions (the same objects, in order)."""
    return len(kept) == len(grown) and all(a is b for a, b in zip(kept, grown, strict=True))


def fill_in_box(polygon: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The polygon (int32 pixels) filled with 1 in a uint8 picture of just its bounding box within a `shape` frame,
    with that box (x0, y0, x1, y1); None when it lies wholly outside. The same pixels as filling the whole frame, made
    on a line's few hundred pixels: a busy frame asks this for dozens of lines, 15 times a second."""
    height, width = shape
    x0, y0 = np.maximum(polygon.reshape(-1, 2).min(axis=0), 0).tolist()
    x1, y1 = np.minimum(polygon.reshape(-1, 2).max(axis=0) + 1, (width, height)).tolist()
    if x1 <= x0 or y1 <= y0:
        return None
    own = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(own, polygon - np.array([x0, y0], polygon.dtype), 1)
    return (x0, y0, x1, y1), own
