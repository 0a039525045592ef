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
rest (a card slid in or put down, not yet seen whole), until it rests (a line found again along one an older look
found there, such as a label the group's ring of cells reached, was not brought in); nor a group that holds no
text. A cell of a followed group is handed back only where its own look saw it whole. A group coming in over the
picture's edge is never part of a trail: what lies beyond the edge is not known.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.redact import masks
from cradle.media.redact.ink import InkMemory
from cradle.media.redact.looks import changed_since, owner_table
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.track import locate, shifted, swept

# Two lines have the same shape when their lengths and heights differ by at most this share and their tilts by at most
# SAME_TILT degrees (one line found on two frames of a moving card: motion blur lengthens it a little).
SAME_SHAPE, SAME_TILT = 0.25, 8.0
# A line the looks found lies along where a located group's lines have passed when this share of its area does.
INSIDE_SHARE = 0.5
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
    # Lines older looks found that the group has carried away, by identity (the region kept with it): see `gone`.
    _gone: dict[int, masks.Region] = field(default_factory=dict)
    # Lines found on frames the group was followed on, by identity, since it began to move.
    _found: dict[int, masks.Region] = field(default_factory=dict)
    # The lines older looks found in the group at rest when it began to move (looked for by their ink: track.py),
    # and the shift at which they were located on the last frame.
    _rest: list[masks.Region] = field(default_factory=list)
    _shift: tuple[int, int] = (0, 0)
    _since: int = 0  # the frame it was located at (or began to move on)
    # The shifts the group was located at since it began to move, and whether its looks found text along none of
    # its lines (text it did not hold at rest: it is not located again until it rests).
    _path: list[tuple[int, int]] = field(default_factory=list)
    _strange: bool = False
    _swept: list[np.ndarray] = field(default_factory=list)  # where its lines have passed since, as polygons
    _here: bool = False  # located on this frame
    _rested: bool = False  # came to rest where it was last located, and nothing has moved since
    _began: int = 0  # the frame it began to move on
    _ink: InkMemory | None = None
    _left: dict[int, tuple[masks.Region, bool]] = field(default_factory=dict)
    _carried: tuple[masks.Region, ...] = ()
    # The lines of the group where track.py located them on this frame (to be masked as found lines are).
    located: list[np.ndarray] = field(default_factory=list)

    def kept(
        self,
        trail: Trail | None,
        index: int,
        grid: MotionGrid,
        owners: np.ndarray,
        since: np.ndarray,
        touched: Callable[[masks.Region], np.ndarray],
        reach: Callable[[masks.Region], np.ndarray],
        image: np.ndarray | None = None,
        ink: InkMemory | None = None,
    ) -> np.ndarray | None:
        """The cells of `trail` to mask whole on frame `index` (None: no trail), given the frame's looks (`owners`,
        `since`: CellLooks.current and .since kept with it, all finished), the cells a line reaches (`touched`) and
        where its glyphs may lie (`reach`: a polygon, masks.reach). Given the frame's `image` and the lines' ink kept
        (`ink`), a group whose lines held at rest are all located (track.py) is followed too; `located` then holds
        where they lie."""
        # A group located on the last frame it moved on has come to rest where it was located: the masks earlier
        # looks left along its path stay unneeded (`left`) until something moves again.
        self._rested = trail is None and (self._rested or self._here)
        self.located, self._here, self._ink = [], False, ink
        if trail is None:
            self.held, self.unknown = 0, False
            self._rest = []
            return None
        new, standing, moved = _lines(trail.cells, index, owners, since, touched)
        if trail.starts:
            # Before the motion, the group's lines were where the looks before it found them.
            self.held = max(rows(new), rows([*(line for _, line in moved), *standing]))
            self.unknown = False
            self._found.clear()
            self._rest = [*(line for _, line in moved), *standing] or list(new)
            self._shift, self._since, self._began = (0, 0), index, index
            self._path = [(0, 0)]
            self._swept = []
            self._strange = False
            self._left.clear()
        # Only what the looks at this very frame found counts: a card is rigid, and where some of its text moved, the
        # rest of it may have moved too in cells the grid saw no change in (a dim card on ground of its own grey).
        # Once none of it is found moving (it has stopped while something else still moves), the lines found while
        # it was followed stand for it, as long as their cells do not change.
        if not new:
            new = [line for line in standing if self._found.get(id(line)) is line]
        now = rows(new)
        carried = _carried_off(moved, new)
        if len(self._gone) > GONE_KEPT:
            self._gone.clear()
        # A group that shows more rows than it held at rest brought text in: a card slid in or put down, whose lines
        # no look has yet seen whole (a crop around its moving edge cuts them). It is not followed until it rests and
        # one look sees it whole. Lines found again just where an older look found them (a label beside the card,
        # which its ring of cells reached as it passed) were not brought in (tuning 41018: a sticker counted as a
        # seventh row of a six-row card, which was then never followed and masked a quarter of the infant).
        older = [*(line for _, line in moved), *standing]
        self.unknown |= rows([line for line in new if not _stayed(line, older)]) > self.held
        # Where the group is located by its ink (track.py), its lines are masked where they are now and their masks
        # where earlier looks found them are not needed (`left`). A group its looks also account for (below) is
        # masked by what they found, as before, and no mask is dropped: the lines those looks stand on may be among
        # those left (scene 100476: a card that stopped, its lines standing from the frame before, 73 % of its PHI
        # unmasked when they were dropped with no located lines masked in their place), and the located lines,
        # lengthened for motion blur, cost the infant more than the lines found (tuning 43040: 98.3 -> 93.1 %).
        tracked = None
        if image is not None and ink is not None and not self.unknown and self.held:
            tracked = self._tracked(trail, index, grid, owners, image, ink, new, older, reach)
        if tracked is not None and (now < self.held or not carried):
            return tracked
        self.located, self._here = [], False
        # Only a card seen carried is followed: lines found before lie again, each its own shape, all shifted alike.
        # Lines found again where they were (a hand over a card's corner) leave the cells to the rule for a group
        # on the move.
        if self.unknown or not self.held or now < self.held or not carried:
            # Not followed, a group's lines still count as carried away from where a look found them when every
            # line that look found lies again, all shifted alike: a card slid in is not followed, yet the lines the
            # looks found on it on the way stand for places it has left (tuning 34025: their masks stayed over the
            # infant after it came to rest, in cells the card's blank edge had left without the motion grid seeing
            # a change). Every line, not most: a look that finds some rows of a card matches rows of the same
            # length a row's pitch away (tuning 37012: the last glyph of a line left unmasked).
            self._gone.update((id(line), line) for line in _carried_off(moved, new, every=True))
            return trail.cells
        self._gone.update((id(line), line) for line in carried)
        self._found.update((id(line), line) for line in new)
        # A look at a moving card can stop a line a glyph short (blurred at its end): the cells at both ends of each
        # line's longest reach stay masked whole (tuning seed 1875: 43 pixels of a line's last glyph).
        ends = np.zeros(grid.shape, bool)
        for line in new:
            ends |= _ends(grid, reach(line))
        return trail.cells & (~_seen_whole(grid, owners) | ends)

    def _tracked(
        self,
        trail: Trail,
        index: int,
        grid: MotionGrid,
        owners: np.ndarray,
        image: np.ndarray,
        ink: InkMemory,
        new: list[masks.Region],
        older: list[masks.Region],
        reach: Callable[[masks.Region], np.ndarray],
    ) -> np.ndarray | None:
        """The trail's cells to mask whole when the lines the group held at rest are located by their ink (track.py):
        only those its own look did not see whole and those at the located lines' ends. None when they are not
        located, or when a line this frame's looks found lies neither along a located line nor where an older look
        found one (text the group did not hold at rest, such as a second card slid in: from then on, until the group
        rests, it is not located at all, since that text is not known as far as it goes)."""
        if not self._rest or self._strange:
            return None
        rows_, cols = np.nonzero(trail.cells)
        area = (
            max(0, int(cols.min() - 1) * grid.width // grid.cols),
            max(0, int(rows_.min() - 1) * grid.height // grid.rows),
            min(grid.width, -(-int(cols.max() + 2) * grid.width // grid.cols)),
            min(grid.height, -(-int(rows_.max() + 2) * grid.height // grid.rows)),
        )
        found = locate(self._rest, ink, image, area)
        if found is None:
            return None
        # Its motion on this frame: the shift since it was last located, over the frames since (a moving card's
        # motion blur is no longer than the distance it moves in a frame).
        frames = max(1, index - self._since)
        motion = ((found.shift[0] - self._shift[0]) / frames, (found.shift[1] - self._shift[1]) / frames)
        lines = [shifted(line, found.shift, motion) for line in found.carried]
        # Every line the frame's looks found lies along where older looks found lines, or mostly inside the places
        # the group has passed through (its lines and the paper a line's height around them, from where they were at
        # rest to where they are now): a look at a blurred card finds a line taller than it, or the smear its edge
        # leaves behind (tuning 43031, 41012), or a label the card lay over at rest. Elsewhere it is text the group
        # brought in.
        path = [*self._swept, *lines, swept(_footprint(found.carried), self._shift, found.shift)]
        if not all(_stayed(line, [*older, *self._rest]) or _inside(line, path) for line in new):
            self._strange = True
            return None
        self._shift, self._since = found.shift, index
        self._path.append(found.shift)
        self._swept = path
        self._carried = found.carried
        self.located, self._here = lines, True
        ends = np.zeros(grid.shape, bool)
        for line in lines:
            ends |= _ends(grid, reach(line))
        return trail.cells & (~_seen_whole(grid, owners) | ends)

    def left(self, line: masks.Region, found_at: int, image: np.ndarray) -> bool:
        """True, on a frame the group is located (track.py), or after it came to rest where it was last located, for
        a line an earlier look found (on frame `found_at`) that the group has carried on: one along a line it held at
        rest moved by a shift it was located at on the way, or, found since it began to move, one mostly inside the
        places it has passed through whose ink no longer shows there in `image` (a blurred look finds a card's lines
        merged, or cut). The group's lines are masked where they are now, so its mask where it was found is not
        needed. At rest, only while the line's ink does not show where it was found."""
        if not self._here and not self._rested:
            return False
        kept = self._left.get(id(line))
        if kept is not None and kept[0] is line:
            along = kept[1]
        else:
            if len(self._left) > GONE_KEPT:
                self._left.clear()
            along = any(
                _stayed(line, [masks.as_quad(rest) + np.asarray(shift, np.float32) for rest in self._carried])
                for shift in self._path
            )
            if not along and found_at >= self._began:
                along = _inside(line, self._swept) and not self._shows(line, image)
            self._left[id(line)] = (line, along)
        # At rest no lines are located: only where its ink does not show where it was found (the group may have come
        # to rest just there).
        return along and (self._here or not self._shows(line, image))

    def _shows(self, line: masks.Region, image: np.ndarray) -> bool:
        """Whether some of the line's ink still shows where it was found (True when its ink was not kept: not known
        not to)."""
        ink = self._ink
        return ink is None or ink.template(line) is None or ink.shows(line, image)

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
) -> tuple[list[masks.Region], list[masks.Region], list[tuple[int, masks.Region]]]:
    """Lines reaching `cells`: found on frame `index`; found earlier in cells that have not changed since (they
    stand); found earlier where cells have changed since (they may have moved on), with the identity of their look."""
    table = owner_table(owners)
    new: list[masks.Region] = []
    standing: list[masks.Region] = []
    moved: list[tuple[int, masks.Region]] = []
    for look in {o for o in owners.flat if o is not None}:
        changed = None if look.index == index else changed_since(owners, since, look, table)
        for region in look.boxes():
            reach = touched(region)
            if not (reach & cells).any():
                continue
            if changed is None:
                new.append(region)
            elif (reach & changed).any():
                moved.append((id(look), region))
            else:
                standing.append(region)
    return new, standing, moved


def _carried_off(
    moved: list[tuple[int, masks.Region]], new: list[masks.Region], every: bool = False
) -> list[masks.Region]:
    """The lines of `moved` (with their looks' identities) that lie again among `new`, carried: for the lines one look
    found, the shift that most of them (with `every`, all of them) share with a line of their own shape found now,
    when at least two of them (or its only one) share it and it is at least half a line's height."""
    shapes = [_shape(line) for line in new]
    out: list[masks.Region] = []
    for look in {key for key, _ in moved}:
        lines = [line for key, line in moved if key == look]
        shifts = []
        for line in lines:
            (cx, cy), length, height, angle = _shape(line)
            shifts.append(
                [
                    (ox - cx, oy - cy, height)
                    for (ox, oy), other_length, other_height, other_angle in shapes
                    if abs(other_length - length) <= SAME_SHAPE * length
                    and abs(other_height - height) <= SAME_SHAPE * height
                    and min(abs(other_angle - angle), 180 - abs(other_angle - angle)) <= SAME_TILT
                ]
            )

        def near(candidates: list[tuple[float, float, float]], dx: float, dy: float) -> bool:
            return any(math.hypot(x - dx, y - dy) <= 0.5 * h for x, y, h in candidates)

        best: tuple[int, float, float, float] = (0, 0.0, 0.0, 0.0)
        for dx, dy, height in (shift for candidates in shifts for shift in candidates):
            support = sum(near(candidates, dx, dy) for candidates in shifts)
            if support > best[0]:
                best = (support, dx, dy, height)
        support, dx, dy, height = best
        if support < min(2, len(lines)) or (support if every else 2 * support) < len(lines):
            continue
        if math.hypot(dx, dy) < 0.5 * height:
            continue
        out += [line for line, candidates in zip(lines, shifts, strict=True) if near(candidates, dx, dy)]
    return out


def _stayed(line: masks.Region, older: list[masks.Region]) -> bool:
    """True when `line` lies along one of `older`, where that was found: its centre inside the older line's polygon,
    as tall and as tilted, and no longer (a crop may find part of a line, cut where the crop cuts it)."""
    (cx, cy), length, height, angle = _shape(line)
    for other in older:
        _, other_length, other_height, other_angle = _shape(other)
        if (
            length <= (1 + SAME_SHAPE) * other_length
            and abs(other_height - height) <= SAME_SHAPE * other_height
            and min(abs(other_angle - angle), 180 - abs(other_angle - angle)) <= SAME_TILT
            and cv2.pointPolygonTest(masks.as_quad(other).astype(np.float32), (float(cx), float(cy)), False) >= 0
        ):
            return True
    return False


def _footprint(lines: tuple[masks.Region, ...]) -> np.ndarray:
    """The rotated rectangle around `lines` grown by their median height on every side (the paper they lie on)."""
    quads = [masks.as_quad(line) for line in lines]
    (cx, cy), (w, h), angle = cv2.minAreaRect(np.vstack(quads).astype(np.float32))
    height = float(np.median([_shape(line)[2] for line in lines]))
    return cv2.boxPoints(((cx, cy), (w + 2 * height, h + 2 * height), angle)).astype(np.float32)


def _inside(line: masks.Region, polygons: list[np.ndarray], share: float = INSIDE_SHARE) -> bool:
    """True when at least `share` of the line's area lies inside `polygons`."""
    quad = masks.as_quad(line)
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    own = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(own, np.round(quad - (x0, y0)).astype(np.int32), 1)
    cover = np.zeros_like(own)
    for polygon in polygons:
        cv2.fillConvexPoly(cover, np.round(polygon - (x0, y0)).astype(np.int32), 1)
    area = int(own.sum())
    return area > 0 and int((own & cover).sum()) >= share * area


def _shape(line: masks.Region) -> tuple[tuple[float, float], float, float, float]:
    """Centre, length, height and tilt (degrees, 0-180) of a line as found."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(masks.as_quad(line))
    if w < h:
        w, h, angle = h, w, angle + 90
    return (cx, cy), w, h, angle % 180


def _ends(grid: MotionGrid, polygon: np.ndarray) -> np.ndarray:
    """The cells holding the two ends (the middles of the short sides) of a line's polygon."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(polygon.astype(np.float32))
    if w < h:
        w, h, angle = h, w, angle + 90
    dx, dy = 0.5 * w * math.cos(math.radians(angle)), 0.5 * w * math.sin(math.radians(angle))
    cells = np.zeros(grid.shape, bool)
    for x, y in ((cx - dx, cy - dy), (cx + dx, cy + dy)):
        col = min(grid.cols - 1, max(0, int(x * grid.cols / grid.width)))
        row = min(grid.rows - 1, max(0, int(y * grid.rows / grid.height)))
        cells[row, col] = True
    return cells


def _seen_whole(grid: MotionGrid, owners: np.ndarray) -> np.ndarray:
    """Cells whose own look saw them whole (its crop held the whole cell)."""
    _index, ident = owner_table(owners)
    seen = np.zeros(grid.shape, bool)
    for look in {o for o in owners.flat if o is not None}:
        seen |= (ident == id(look)) & grid.cells_within(look.box)
    return seen
