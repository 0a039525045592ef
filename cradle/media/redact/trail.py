"""The cells a moving group passes through, and when the lines found in it may stand for them.

While a group of cells is on the move (a card carried along, a hand passing, an infant stirring), the redactor masks
every cell it has moved through until it rests and is looked at whole: a moving card may carry text no look can
read yet. The price is the infant: a card carried across the incubator leaves a band of masked cells over her for
as long as anything moves. That band is needed only while the card's text may be where no look found it. Each
frame's looks are back before the frame leaves; when they account for the group's text, the group is *followed*:
its cells are masked as any other cells are (by the lines their looks found), not whole.

A group is followed on a frame when
  - it held rows of text at rest, when it began to move (the looks before the motion found them),
  - the looks at that very frame found in it at least as many rows (lines that stay where older looks found them do
    not count: part of a card may move in cells the grid saw no change in), and
  - some line they found lies where no line was at rest: the card is seen carried.
So a card that loses a row to motion blur, a hand or a crop is not followed on that frame; nor is one whose lines
are found again where they were (a hand over its corner), nor a group that brought text in that it did not hold at
rest (a card slid in or put down, not yet seen whole), until it rests; nor a group that holds no text. A cell of a
followed group is handed back only where its own look saw it whole. A group coming in over the picture's edge is
never part of a trail: what lies beyond the edge is not known.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.redact import masks
from cradle.media.redact.looks import changed_since, owner_table
from cradle.media.redact.motion import MotionGrid

# A line found again covering at least this share of where it was found (or of itself) is in place.
IN_PLACE = 0.5
# Lines remembered as carried away (see Following.gone) before the memory is emptied.
GONE_KEPT = 2000


@dataclass(slots=True, frozen=True)
class Trail:
    """The cells (rows x cols, bool) a moving group covers on a frame, masked whole unless it is followed."""

    cells: np.ndarray
    starts: bool  # the group began to move on this frame


@dataclass(slots=True)
class Following:
    """How many rows of text the moving group held when it began to move (reset when nothing moves)."""

    held: int = 0
    unknown: bool = False  # the group has brought in text it did not hold when it began to move
    rest: list[masks.Region] = field(default_factory=list)  # its lines at rest
    # Lines older looks found that the group has carried away, by identity (the region kept with it): see `gone`.
    _gone: dict[int, masks.Region] = field(default_factory=dict)
    # Lines found on frames the group was followed on, by identity, since it began to move.
    _found: dict[int, masks.Region] = field(default_factory=dict)

    def kept(
        self,
        trail: Trail | None,
        index: int,
        grid: MotionGrid,
        owners: np.ndarray,
        since: np.ndarray,
        touched: Callable[[masks.Region], np.ndarray],
    ) -> np.ndarray | None:
        """The cells of `trail` to mask whole on frame `index` (None: no trail), given the frame's looks (`owners`,
        `since`: CellLooks.current and .since kept with it, all finished) and the cells a line reaches (`touched`)."""
        if trail is None:
            self.held, self.unknown, self.rest = 0, False, []
            return None
        new, standing, moved = _lines(trail.cells, index, owners, since, touched)
        if trail.starts:
            # Before the motion, the group's lines were where the looks before it found them.
            self.held = max(rows(new), rows([*moved, *standing]))
            self.unknown = False
            self.rest = [*moved, *standing]
            self._found.clear()
        # Only what the looks at this very frame found counts: a card is rigid, and where some of its text moved, the
        # rest of it may have moved too in cells the grid saw no change in (a dim card on ground of its own grey).
        # Once none of it is found moving (it has stopped while something else still moves), the lines found while
        # it was followed stand for it, as long as their cells do not change.
        if not new:
            new = [line for line in standing if self._found.get(id(line)) is line]
        now = rows(new)
        # A group that held no text when it began to move and shows some now brought it in: a card slid in or put
        # down, whose lines no look has yet seen whole (a crop around its moving edge cuts them). It is not followed
        # until it rests and one look sees it whole.
        self.unknown |= self.held == 0 and now > 0
        # Only a card seen carried is followed: some line found now lies where no line was at rest. Lines found again
        # where they were (a hand over a card's corner) leave the cells to the rule for a group on the move.
        carried = any(not any(_in_place(line, old) for old in self.rest) for line in new)
        if self.unknown or not self.held or now < self.held or not carried:
            return trail.cells
        # A line found before the motion where nothing is found now has been carried off with the group, which the
        # looks at this frame found again, row for row, elsewhere.
        if len(self._gone) > GONE_KEPT:
            self._gone.clear()
        for line in moved:
            if not any(_in_place(line, other) for other in new):
                self._gone[id(line)] = line
        self._found.update((id(line), line) for line in new)
        return trail.cells & ~_seen_whole(grid, owners)

    def gone(self, line: masks.Region) -> bool:
        """True for a line a followed group has carried away from where it was found: where its cells have changed
        since, it is not there any more, however much of it lies in cells that have not (a faint card leaves some
        of its old cells without changing them enough for the motion grid)."""
        return self._gone.get(id(line)) is line


def rows(lines: list[masks.Region]) -> int:
    """How many rows of text `lines` form: lines whose centres lie within half a line's height of each other
    across the text's direction are one row (a detector may find a row in pieces, or twice)."""
    if not lines:
        return 0
    shapes = [cv2.minAreaRect(masks.as_quad(line)) for line in lines]
    angles, heights, centres = [], [], []
    for (cx, cy), (w, h), angle in shapes:
        if w < h:
            w, h, angle = h, w, angle + 90
        angles.append(math.radians(angle))
        heights.append(h)
        centres.append((cx, cy))
    # Across the text's direction (the lines' median tilt).
    tilt = float(np.median(angles))
    across = sorted(-cx * math.sin(tilt) + cy * math.cos(tilt) for cx, cy in centres)
    gap = 0.5 * float(np.median(heights))
    return 1 + sum(1 for a, b in itertools.pairwise(across) if b - a > gap)


def _lines(
    cells: np.ndarray,
    index: int,
    owners: np.ndarray,
    since: np.ndarray,
    touched: Callable[[masks.Region], np.ndarray],
) -> tuple[list[masks.Region], list[masks.Region], list[masks.Region]]:
    """Lines reaching `cells`: found on frame `index`; found earlier in cells that have not changed since (they
    stand); found earlier where cells have changed since (they may have moved on)."""
    table = owner_table(owners)
    new: list[masks.Region] = []
    standing: list[masks.Region] = []
    moved: list[masks.Region] = []
    for look in {o for o in owners.flat if o is not None}:
        changed = None if look.index == index else changed_since(owners, since, look, table)
        for region in look.boxes():
            reach = touched(region)
            if not (reach & cells).any():
                continue
            if changed is None:
                new.append(region)
            elif (reach & changed).any():
                moved.append(region)
            else:
                standing.append(region)
    return new, standing, moved


def _in_place(line: masks.Region, other: masks.Region) -> bool:
    """True when `other` covers at least half of `line` or `line` half of `other`: the same line found again where it
    was (whole, or the part a hand leaves in view), not one carried past it."""
    a, b = masks.as_quad(line), masks.as_quad(other)
    area, _ = cv2.intersectConvexConvex(a, b)
    return area >= IN_PLACE * max(1.0, min(cv2.contourArea(a), cv2.contourArea(b)))


def _seen_whole(grid: MotionGrid, owners: np.ndarray) -> np.ndarray:
    """Cells whose own look saw them whole (its crop held the whole cell)."""
    _index, ident = owner_table(owners)
    seen = np.zeros(grid.shape, bool)
    for look in {o for o in owners.flat if o is not None}:
        seen |= (ident == id(look)) & grid.cells_within(look.box)
    return seen
