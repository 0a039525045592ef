"""Which look (a detection at a frame, whole or a crop) vouches for each cell of the picture.

Kept apart from the redactor's scheduling so the rules of vouching read in one place: each cell has a current look
and the one before it (with what each saw, kept by the MotionGrid); a look vouches for a cell while the cell still
matches what it saw, it is younger than the policy's max_age and it did not fail. "No detection" is never "nothing
there": a cell whose look is missing, failed or too old makes the frame a privacy screen.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from cradle.media.frames import Box
from cradle.media.redact import masks
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.policy import CameraPolicy


@dataclass(slots=True, eq=False)
class Look:
    """One detection: the frame it looked at, the crop (None: the whole frame) and its result to come."""

    index: int
    future: Future
    whole: bool
    box: Box | None = None  # the crop it looked at (None: the whole frame)
    # Boxes that earlier detections found in cells that have not moved since: still valid there, and kept so
    # that one look missing a line the previous look found does not unmask it.
    inherited: tuple[masks.Region, ...] = ()
    cells: np.ndarray | None = None  # the grid cells its regions touch, once finished
    native: bool = True  # it looked at the camera's own resolution (a scaled-down look can miss small type)
    # The picture it looked at, until the release has kept its lines' ink (ink.py); then None.
    image: np.ndarray | None = None

    def boxes(self) -> list[masks.Region]:
        return [*self.future.result(), *self.inherited]

    @property
    def ok(self) -> bool:
        """Finished without raising."""
        return self.future.done() and self.future.exception() is None

    def found_cells(self, grid: MotionGrid, policy: CameraPolicy) -> np.ndarray:
        """The cells its (grown) regions touch; only for a finished look."""
        if self.cells is None:
            self.cells = grid.cells_of([masks.grow(r, policy) for r in self.boxes()])
        return self.cells

    def saw_clear(self, grid: MotionGrid, policy: CameraPolicy) -> np.ndarray:
        """Cells it saw whole, at native resolution, and found nothing in (none, unless it finished well)."""
        if not self.ok or not self.native:
            return np.zeros(grid.shape, bool)
        return grid.cells_within(self.box) & ~self.found_cells(grid, policy)

    def contains(self, box: Box) -> bool:
        """True when this look saw all of `box` at once."""
        if self.box is None:
            return True
        x0, y0, x1, y1 = self.box
        return x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1


class CellLooks:
    """The current and previous look of every cell (object arrays of Look or None, rows x cols)."""

    def __init__(self, shape: tuple[int, int] = (0, 0)) -> None:
        self.current = np.full(shape, None, object)
        self.previous = np.full(shape, None, object)
        # The frame since which each cell's current look has answered for it (the cell has matched what that look
        # saw on every frame since: a change would have given it another look).
        self.since = np.zeros(shape, np.int64)
        self._last = self.current.copy()

    def mark(self, index: int) -> None:
        """Note, after frame `index` has been checked, the cells whose current look changed on it."""
        changed = np.array([a is not b for a, b in zip(self.current.flat, self._last.flat, strict=True)], bool)
        self.since[changed.reshape(self.since.shape)] = index
        self._last = self.current.copy()

    def all(self) -> set[Look]:
        return {d for d in (*self.current.flat, *self.previous.flat) if d is not None}

    def blind(self) -> bool:
        """True while some cell has no look at all (the camera's first frames)."""
        return any(d is None for d in self.current.flat)

    def take(self, cells: np.ndarray, look: Look | None) -> None:
        """`look` becomes the current look of `cells`, their current one the previous."""
        self.previous[cells] = self.current[cells]
        self.current[cells] = look

    def take_all(self, look: Look) -> None:
        self.previous[:] = self.current
        self.current[:] = look

    def swap(self, cells: np.ndarray) -> None:
        """The previous look of `cells` becomes current again (the picture went back to what it saw)."""
        self.current[cells], self.previous[cells] = self.previous[cells], self.current[cells]

    def running(self) -> bool:
        """True while some cell's current look has not finished."""
        return any(d is not None and not d.future.done() for d in set(self.current.flat))

    def vouched(self, index: int, max_age: int) -> tuple[Look, ...] | None:
        """The looks vouching for frame `index`, or None when some cell has none young enough."""
        looks = set(self.current.flat)
        if None in looks or any(index - d.index >= max_age for d in looks):
            return None
        return tuple(looks)

    def unusable(self, index: int, max_age: int, previous: bool = False) -> np.ndarray:
        """Cells whose current (or previous) look is missing, failed or too old to vouch for frame `index`."""
        looks = self.previous if previous else self.current
        bad = {
            id(d)
            for d in set(looks.flat)
            if d is None or index - d.index >= max_age or (d.future.done() and d.future.exception() is not None)
        }
        if not bad:
            return np.zeros(looks.shape, bool)
        return np.array([id(d) in bad for d in looks.flat], bool).reshape(looks.shape)

    def nothing_found(self, grid: MotionGrid, policy: CameraPolicy) -> np.ndarray:
        """Cells whose current look is missing, or finished and found nothing there."""
        found = np.zeros(grid.shape, bool)
        running = np.zeros(grid.shape, bool)
        for d in set(self.current.flat):
            if d is None:
                continue
            mine = self.current == d
            if not d.future.done():
                running |= mine
            elif d.ok:
                found |= mine & d.found_cells(grid, policy)
        return ~found & ~running

    def found_text(self, grid: MotionGrid, policy: CameraPolicy) -> np.ndarray:
        """Cells in which the finished current and previous looks found something."""
        cells = np.zeros(grid.shape, bool)
        for d in set(self.current.flat) | set(self.previous.flat):
            if d is not None and d.ok:
                cells |= d.found_cells(grid, policy)
        return cells

    def still_valid(self, moved: np.ndarray) -> tuple[masks.Region, ...]:
        """Regions found by the finished looks that vouch for cells which have not moved."""
        out: list[masks.Region] = []
        for d in set(self.current[~moved].flat):
            if d is not None and d.ok:
                out += d.future.result()
        return tuple(out)

    def install(self, refresh: Look, grid: MotionGrid, thumb: np.ndarray) -> None:
        """A background look that is back vouches, from now on, for the cells whose own look is older than it."""
        older = np.array([d is None or d.index < refresh.index for d in self.current.flat]).reshape(grid.shape)
        if older.any():
            self.take(older, refresh)
            grid.settle(thumb, older)


def changed_since(
    owners: np.ndarray, since: np.ndarray, look: Look, table: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Cells of `owners` (with CellLooks.since, both kept with a frame) that changed after `look` saw them: a newer
    look answers for them, or an older one does again only since a later frame (the cell went back to what it saw,
    CellLooks.swap). Elsewhere the cell shows what it showed to `look`. `table` is `owner_table(owners)`, made once
    for the frame's looks (a 720p frame has 920 cells, asked about for each of its looks)."""
    index, ident = table if table is not None else owner_table(owners)
    return (ident != 0) & (ident != id(look)) & ((index > look.index) | (since > look.index))


def owner_table(owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cell of `owners`, its look's frame index (-1 for none) and the look's identity (0 for none)."""
    index = np.fromiter((-1 if o is None else o.index for o in owners.flat), np.int64, owners.size)
    ident = np.fromiter((0 if o is None else id(o) for o in owners.flat), np.uint64, owners.size)
    return index.reshape(owners.shape), ident.reshape(owners.shape)


def newer_than(owners: np.ndarray, look: Look) -> np.ndarray:
    """Cells of `owners` (a copy of CellLooks.current kept with a frame) that a look newer than `look` answers for."""
    return np.array([o is not None and o.index > look.index for o in owners.flat]).reshape(owners.shape)
