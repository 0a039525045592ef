"""Where the picture changed since a detection last looked: a grid of cells on a small grey thumbnail."""

from __future__ import annotations

import math

import cv2
import numpy as np

from cradle.media.frames import Box

# Cells are about this many pixels square; the thumbnail has THUMB_PER_CELL pixels across each cell.
CELL_PX = 32
THUMB_PER_CELL = 4
_NEIGHBOURS = np.ones((3, 3), np.uint8)
# The change threshold is this share of the thumbnail's contrast (5th to 95th percentile), at least MIN_THRESHOLD.
CONTRAST_SHARE = 0.15
MIN_THRESHOLD = 8
# ... and a cell whose mean moved by more than this share of that threshold has changed too.
MEAN_SHARE = 0.5
# In the cells a caller asks for (`changed(sensitive=...)`: the redactor asks for all but a monitor's screen), a
# thumbnail pixel's threshold is instead this share of the grey range of the cell and its neighbours in the reference,
# at least MIN_THRESHOLD, where that is lower: a faint card in a dark corner of a picture whose lamp and monitor set a
# high threshold. (0.15, the picture's share, made a card at rest on tuning seed 1978 count as moving and mask the
# infant around it; 0.2 still masked far more of the infant beside faint cards on tuning seeds 4219, 6860 and 2872,
# for no more PHI masked.)
LOCAL_SHARE = 0.3
_GROUPING = np.ones((5, 5), np.uint8)
# Answers `cells_inside` keeps (polygons found again where they were).
INSIDE_KEPT = 16


class MotionGrid:
    """Compares each frame, cell by cell, with the pictures that cell's last two detections saw.

    A thumbnail pixel counts as changed only when it lies outside the range of its 3x3 neighbourhood in the
    reference by more than `threshold` grey levels (less in a low-contrast picture, see CONTRAST_SHARE): a shift
    of up to one thumbnail pixel (8 frame pixels, far
    more than camera shake) and sensor noise do not count, while a card, a hand or new ink does.
    A cell has moved when more than `share` of its thumbnail pixels changed (with the default, any one).
    In the cells asked for, the threshold may follow the contrast around each cell instead (LOCAL_SHARE): a faint
    card creeping a few pixels a frame in a dark room changes its cells by far less than the picture's contrast.
    Two looks are remembered per cell (current and previous) because a cell that flips between two pictures,
    such as an edge the shake moves in and out of view, would otherwise need a new detection at every flip.
    """

    def __init__(self, width: int, height: int, threshold: int = 30, share: float = 0.004) -> None:
        self.width, self.height = width, height
        self.cols, self.rows = max(1, math.ceil(width / CELL_PX)), max(1, math.ceil(height / CELL_PX))
        self._threshold = threshold
        self._min_changed = max(1, math.ceil(share * THUMB_PER_CELL * THUMB_PER_CELL))
        self._xs = [round(c * width / self.cols) for c in range(self.cols + 1)]
        self._ys = [round(r * height / self.rows) for r in range(self.rows + 1)]
        # The cell row of each pixel row and the cell column of each pixel column (for `window`).
        self._row_of = np.repeat(np.arange(self.rows), np.diff(self._ys))
        self._col_of = np.repeat(np.arange(self.cols), np.diff(self._xs))
        # Layer 0 is what each cell's current detection saw, layer 1 what its previous one saw.
        self._reference: list[np.ndarray | None] = [None, None]
        self._low: list[np.ndarray | None] = [None, None]
        self._high: list[np.ndarray | None] = [None, None]
        # Each cell's threshold from the contrast around it in the reference (LOCAL_SHARE), per layer.
        self._local: list[np.ndarray | None] = [None, None]
        # What cells showed before they began to move (see `remember` and `returned`).
        self._before: np.ndarray | None = None
        # `cells_inside`'s answers, by the polygons asked about (their bytes).
        self._inside: dict[bytes, np.ndarray] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    def thumbnail(self, image: np.ndarray) -> np.ndarray:
        """The small grey picture the grid compares (one per frame; cheap)."""
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        size = (self.cols * THUMB_PER_CELL, self.rows * THUMB_PER_CELL)
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)

    def changed(self, thumb: np.ndarray, layer: int = 0, sensitive: np.ndarray | None = None) -> np.ndarray:
        """Cells (rows x cols, bool) that differ from the current (layer 0) or previous (1) look; all of them
        where there is no such look yet. In `sensitive` cells (rows x cols, bool) the threshold follows the contrast
        around each cell where that is lower (LOCAL_SHARE)."""
        looked, low, high = self._reference[layer], self._low[layer], self._high[layer]
        if looked is None or low is None or high is None:  # (the three are set together)
            return np.ones(self.shape, bool)
        local = self._local[layer]
        if sensitive is None or local is None or not sensitive.any():
            return self._differs(thumb, looked, low, high)
        return self._differs(thumb, looked, low, high, (sensitive, local))

    def remember(self, cells: np.ndarray) -> None:
        """`cells` begin to move: remember what their current look saw, the picture before the motion."""
        current = self._reference[0]
        if current is None:
            return
        if self._before is None:
            self._before = current.copy()
        where = self._pixels(cells)
        self._before[where] = current[where]

    def returned(self, thumb: np.ndarray) -> np.ndarray:
        """Cells that show again what they showed before they began to move (what `remember` kept)."""
        if self._before is None:
            return np.zeros(self.shape, bool)
        low = cv2.erode(self._before, _NEIGHBOURS).astype(np.int16)
        high = cv2.dilate(self._before, _NEIGHBOURS).astype(np.int16)
        return ~self._differs(thumb, self._before, low, high)

    def _differs(
        self,
        thumb: np.ndarray,
        reference: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        local: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        # In a dim or infrared picture a moving card changes the thumbnail by less: the threshold follows the
        # picture's contrast, down to MIN_THRESHOLD (still well above the thumbnail's noise).
        p5, p95 = np.percentile(thumb, (5, 95))
        threshold = int(min(self._threshold, max(MIN_THRESHOLD, CONTRAST_SHARE * (p95 - p5))))
        k = THUMB_PER_CELL
        mean_threshold: float | np.ndarray = MEAN_SHARE * threshold
        if local is not None:
            # ... and, in the cells asked for, the contrast around each cell, where that is lower. Their mean must
            # still move by MIN_THRESHOLD grey levels: by less, a dim picture's noise and its light's unevenness made
            # text move (tuning seed 26: a card at rest was looked at again, and the look missed a line).
            cells, own = local
            lowered = np.where(cells, np.minimum(own, threshold), threshold)
            per_pixel = np.repeat(np.repeat(lowered, k, axis=0), k, axis=1)
            outside = (thumb < low - per_pixel) | (thumb > high + per_pixel)
            mean_threshold = np.minimum(mean_threshold, np.maximum(MEAN_SHARE * lowered, MIN_THRESHOLD))
        else:
            outside = (thumb < low - threshold) | (thumb > high + threshold)
        counts = self._cell_means(outside.view(np.uint8)) * (k * k)
        # A card lifted off busy ground (or the ground appearing where a card was) can stay inside the old text's
        # range everywhere; the cell's mean still moves. Shake and noise average out of a cell's mean.
        shift = self._cell_means(thumb) - self._cell_means(reference)
        shift -= _median(shift)  # the room's light drifting changes every cell alike: that is not a change
        return (counts >= self._min_changed) | (np.abs(shift) > mean_threshold)

    def _cell_means(self, pixels: np.ndarray) -> np.ndarray:
        """Each cell's mean of a thumbnail-sized uint8 picture (rows x cols, float64). OpenCV's area average over
        whole 4x4 blocks, in float32: sums of 16 bytes and a sixteenth of them are exact there, so these are numpy's
        means to the bit, at a quarter of the CPU of its reduction over two axes of a reshaped array (every frame,
        twice or three times)."""
        means = cv2.resize(pixels.astype(np.float32), (self.cols, self.rows), interpolation=cv2.INTER_AREA)
        return means.astype(np.float64)

    def settle(self, thumb: np.ndarray, cells: np.ndarray | None = None) -> None:
        """A detection has just looked at `cells` (all when None) of `thumb`: it becomes their current look and
        the current one their previous."""
        current = self._reference[0]
        if current is None or cells is None:
            self._reference = [thumb.copy(), current]
        else:
            where = self._pixels(cells)
            previous = self._reference[1] if self._reference[1] is not None else current.copy()
            previous[where] = current[where]
            current[where] = thumb[where]
            self._reference[1] = previous
        self._ranges()

    def swap(self, cells: np.ndarray) -> None:
        """Make the previous look of `cells` their current one and the other way round."""
        current, previous = self._reference
        if current is None or previous is None:
            return
        where = self._pixels(cells)
        current[where], previous[where] = previous[where], current[where]
        self._ranges()

    def _pixels(self, cells: np.ndarray) -> np.ndarray:
        k = THUMB_PER_CELL
        return np.repeat(np.repeat(cells, k, axis=0), k, axis=1)

    def _ranges(self) -> None:
        for layer, reference in enumerate(self._reference):
            if reference is None:
                continue
            self._low[layer] = cv2.erode(reference, _NEIGHBOURS).astype(np.int16)
            self._high[layer] = cv2.dilate(reference, _NEIGHBOURS).astype(np.int16)
            # Each cell's brightest and darkest pixel: the 4x4 block's corner of a dilation (erosion) anchored there.
            k = THUMB_PER_CELL
            block = np.ones((k, k), np.uint8)
            most = cv2.dilate(reference, block, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::k, ::k]
            least = cv2.erode(reference, block, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::k, ::k]
            brightest = cv2.dilate(np.ascontiguousarray(most), _NEIGHBOURS).astype(np.float32)
            darkest = cv2.erode(np.ascontiguousarray(least), _NEIGHBOURS).astype(np.float32)
            self._local[layer] = np.maximum(MIN_THRESHOLD, LOCAL_SHARE * (brightest - darkest))

    def regions(self, cells: np.ndarray) -> list[tuple[Box, np.ndarray]]:
        """Crops to detect on, as (pixel box, the `cells` it answers for).

        Cells up to two apart form one group (the edges of one moving thing, whose inside may look unchanged);
        each crop is its group's bounding box with one cell of margin, so text crossing a cell edge is whole.
        """
        groups = cv2.dilate(cells.astype(np.uint8), _GROUPING)
        count, labels = cv2.connectedComponents(groups, connectivity=8)
        out = []
        for label in range(1, count):
            mine = cells & (labels == label)
            rows, cols = np.nonzero(mine)
            r0, r1 = max(0, int(rows.min()) - 1), min(self.rows, int(rows.max()) + 2)
            c0, c1 = max(0, int(cols.min()) - 1), min(self.cols, int(cols.max()) + 2)
            out.append(((self._xs[c0], self._ys[r0], self._xs[c1], self._ys[r1]), mine))
        return out

    def settled(self, episode: np.ndarray, moved: np.ndarray) -> list[tuple[Box, np.ndarray, np.ndarray]]:
        """Groups of `episode` cells (grouped as in `regions`) none of which moved on this frame, as (pixel box:
        the group's bounding box with one cell of margin, every cell inside that box, the group's cells)."""
        groups = cv2.dilate(episode.astype(np.uint8), _GROUPING)
        count, labels = cv2.connectedComponents(groups, connectivity=8)
        out = []
        for label in range(1, count):
            area = labels == label
            if (area & moved).any():
                continue
            mine = episode & area
            rows, cols = np.nonzero(mine)
            if len(rows) == 0:
                continue
            r0, r1 = max(0, int(rows.min()) - 1), min(self.rows, int(rows.max()) + 2)
            c0, c1 = max(0, int(cols.min()) - 1), min(self.cols, int(cols.max()) + 2)
            inside = np.zeros(self.shape, bool)
            inside[r0:r1, c0:c1] = True
            out.append(((self._xs[c0], self._ys[r0], self._xs[c1], self._ys[r1]), inside, mine))
        return out

    def entering(self, cells: np.ndarray, moved: np.ndarray, read: np.ndarray) -> np.ndarray:
        """The cells (rows x cols, bool) of the groups of `cells` (grouped as in `regions`) that are coming in from
        beyond the picture's edge (they reach it and some of their cells `moved` on this frame) with no text read in
        them yet (none of their cells is in `read`): each group's bounding box with a ring of one cell, as far as the
        picture goes.

        Something that comes in from beyond the edge is known only as far as the grid saw it change; a faint card
        on ground of its own grey changes few of the cells it covers (its paper within the shake allowance of the
        wall's own range), and what lies beyond the edge comes into view with it. Once a look reads text in the group,
        the redactor masks that text as it moves instead (a ring around a whole card took the infant beside it)."""
        out = np.zeros(self.shape, bool)
        edge = np.zeros(self.shape, bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        if not (cells & edge).any():
            return out
        groups = cv2.dilate(cells.astype(np.uint8), _GROUPING)
        count, labels = cv2.connectedComponents(groups, connectivity=8)
        for label in range(1, count):
            mine = cells & (labels == label)
            if not (mine & edge).any() or not (mine & moved).any() or (mine & read).any():
                continue
            rows, cols = np.nonzero(mine)
            r0, r1 = max(0, int(rows.min()) - 1), min(self.rows, int(rows.max()) + 2)
            c0, c1 = max(0, int(cols.min()) - 1), min(self.cols, int(cols.max()) + 2)
            out[r0:r1, c0:c1] = True
        return out

    def cell_boxes(self, cells: np.ndarray) -> list[Box]:
        """Pixel boxes of the given cells, one per row of neighbouring cells."""
        out = []
        for r in range(self.rows):
            cols = np.nonzero(cells[r])[0]
            if len(cols) == 0:
                continue
            runs = np.split(cols, np.nonzero(np.diff(cols) > 1)[0] + 1)
            out += [(self._xs[run[0]], self._ys[r], self._xs[run[-1] + 1], self._ys[r + 1]) for run in runs]
        return out

    def cells_within(self, box: Box | None) -> np.ndarray:
        """Cells (rows x cols, bool) that lie wholly inside the pixel box (all of them for None)."""
        inside = np.zeros(self.shape, bool)
        if box is None:
            inside[:] = True
            return inside
        x0, y0, x1, y1 = box
        cols = [c for c in range(self.cols) if x0 <= self._xs[c] and self._xs[c + 1] <= x1]
        rows = [r for r in range(self.rows) if y0 <= self._ys[r] and self._ys[r + 1] <= y1]
        if cols and rows:
            inside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
        return inside

    def cell_pixels(self, cells: np.ndarray) -> np.ndarray:
        """A uint8 0/1 picture (frame size) of the given cells."""
        rows = np.repeat(cells, np.diff(self._ys), axis=0)
        return np.repeat(rows, np.diff(self._xs), axis=1).astype(np.uint8)

    def window(self, cells: np.ndarray, box: Box) -> np.ndarray:
        """`cell_pixels(cells)` cut to the pixel box (x0, y0, x1, y1), made only there: a line's few hundred pixels
        rather than the whole frame's."""
        x0, y0, x1, y1 = box
        return cells[np.ix_(self._row_of[y0:y1], self._col_of[x0:x1])].view(np.uint8)

    def cells_of(self, polygons: list[np.ndarray]) -> np.ndarray:
        """Cells (rows x cols, bool) that the polygons (pixels) touch."""
        small = np.zeros(self.shape, np.uint8)
        sx, sy = self.cols / self.width, self.rows / self.height
        for polygon in polygons:
            cv2.fillConvexPoly(small, np.round(polygon * (sx, sy)).astype(np.int32), 1)
        return small.astype(bool)

    def cells_inside(self, polygons: list[np.ndarray]) -> np.ndarray:
        """Cells (rows x cols, bool) that lie wholly inside one of the convex polygons (pixels), every pixel of them.
        Answers are kept by the polygons asked about: a monitor is found where it was, frame after frame, or a
        thumbnail pixel aside as the camera shakes."""
        key = b"".join(np.asarray(p, np.float32).tobytes() for p in polygons)
        kept = self._inside.get(key)
        if kept is not None:
            return kept
        if len(self._inside) >= INSIDE_KEPT:
            self._inside.clear()
        inside = np.zeros(self.shape, bool)
        whole = np.diff(self._ys)[:, None] * np.diff(self._xs)[None, :]
        for polygon in polygons:
            filled = np.zeros((self.height, self.width), np.uint8)
            cv2.fillConvexPoly(filled, np.round(polygon).astype(np.int32), 1)
            rows = np.add.reduceat(filled, self._ys[:-1], axis=0, dtype=np.int32)
            inside |= np.add.reduceat(rows, self._xs[:-1], axis=1) == whole
        self._inside[key] = inside
        return inside

    def area(self, cells: np.ndarray) -> float:
        """Share of the frame the crops for `cells` would cover."""
        grown = cv2.dilate(cells.astype(np.uint8), _NEIGHBOURS)
        return float(grown.mean())


def _median(values: np.ndarray) -> float:
    """np.median of finite values to the bit (the middle one, or the mean of the middle two, after one partition),
    without its generic machinery: a seventh of its CPU on a grid's few hundred cells, every frame."""
    flat = values.ravel()
    middle = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, middle)[middle])
    part = np.partition(flat, (middle - 1, middle))
    return float((part[middle - 1] + part[middle]) / 2)
