"""Releasing a camera's frames in order: masked with what vouches for them, or the privacy screen, never late.

The redactor (redactor.py) decides what to look at and which look vouches for each cell of a frame; this part holds
the frames until their looks are back, masks them, and screens any frame whose looks failed, are missing, or did not
come back within the hold window counted from capture.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.frames import Box, Frame, SafeFrame, screened
from cradle.media.redact import masks
from cradle.media.redact.looks import Look, changed_since, owner_table
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.policy import CameraPolicy
from cradle.media.redact.rate import FrameRate
from cradle.media.redact.trail import Following, Trail

# Share of the deadline a live frame waits for its look-ahead detection once its own detections are in.
LOOKAHEAD_PATIENCE = 0.75
# A line found earlier counts as still where it was (masked whole, Releasing._still_there) while more than this share
# of where it may lie is in cells no newer look answers for; at most this share is a sliver along a cell's edge that
# the motion grid could not see the line leave.
LINE_LEFT_SHARE = 0.25
# Grown regions kept for the next frames (see Releasing._grown).
GROWN_KEPT = 2000


@dataclass(slots=True)
class Pending:
    frame: Frame
    # The looks that vouch for every part of this frame, or None when some part has none.
    vouchers: tuple[Look, ...] | None
    # Cells masked whole on this frame: they changed, and text was found in or next to them a moment ago.
    moving_text: list[Box] = field(default_factory=list)
    # Shown as a repeat of the last safe frame: the camera is redacting fewer frames to keep up.
    repeat: bool = False
    # A release found its own detections not back yet (not just the look-ahead): the pool is slow for it.
    waited: bool = False
    # Which look vouches for each cell of this frame, and since which frame (CellLooks.since).
    owners: np.ndarray | None = None
    since: np.ndarray | None = None
    # Monitor screens on the frame (quadrilaterals, pixels), masked whole.
    monitors: list[np.ndarray] = field(default_factory=list)
    # Cells a moving group covers (trail.py): masked whole unless the frame's looks follow its text.
    trail: Trail | None = None


@dataclass(slots=True)
class RedactionCounts:
    """What happened to a camera's frames so far."""

    frames: int = 0
    screened: int = 0
    detections: int = 0
    motion_detections: int = 0
    failures: int = 0  # frames screened although the camera delivered them; split into the three below
    unvouched: int = 0  # some part had no valid detection (moved, refused, failed earlier or too old)
    late: int = 0  # a detection the frame needed was not back by the deadline
    failed: int = 0  # a detection the frame needed raised
    repeated: int = 0  # frames shown as a repeat of the last safe one while the camera redacts fewer frames


class Releasing:
    """The frames a camera holds, and the rules by which each leaves (see Redactor for when a look vouches)."""

    policy: CameraPolicy
    _grid: MotionGrid | None
    _last_whole: int

    def __init__(self, deadline_s: float, blocking: bool, clock: Callable[[], float]) -> None:
        self._deadline = deadline_s
        self._blocking = blocking
        self._clock = clock
        self._pending: deque[Pending] = deque()
        self._wholes: deque[Look] = deque()  # whole-frame looks not yet behind every pending frame
        self._last_seen = -1
        self._last_safe: SafeFrame | None = None
        self.rate = FrameRate()
        # Called with the new frames-redacted-per-frame-shown whenever overload changes it (the worker logs it).
        self.on_rate: Callable[[int], None] | None = None
        self.counts = RedactionCounts()
        self._following = Following()  # how many lines the group on the move has held (trail.py)
        # Each found region grown on the first frame that masks it: a look's regions stand unchanged on every frame
        # it vouches for (its cells have not changed), and growing one costs about half a millisecond.
        self._grown_cache: dict[int, tuple[masks.Region, np.ndarray]] = {}
        # The last frame's coverage and what it was made of (grown regions, loose polygons, policy, size): a quiet
        # picture masks the same regions frame after frame, and joining 30 lines into blocks costs 2-4 ms a frame.
        self._coverage_kept: tuple[list[np.ndarray], list[bytes], CameraPolicy, tuple[int, int], np.ndarray] | None
        self._coverage_kept = None
        # Lines' shapes and the bridges between them, by their polygons (masks.blocks): the same lines are joined
        # into the same blocks frame after frame while the looks that found them stand.
        self._blocks_memo: dict = {}
        # The last lines and blocks layer (masks.line_cover) and the grown regions and frame size it was made of.
        self._lines_kept: tuple[list[np.ndarray], tuple[int, int], np.ndarray] | None = None
        # Each found region's cells (grown, without the picture): asked for every region of every frame.
        self._touched_cache: dict[int, tuple[masks.Region, CameraPolicy, MotionGrid, np.ndarray]] = {}
        # `_still_there`'s answers, by region and the cells newer looks answer for.
        self._still_cache: dict[tuple[int, bytes], tuple[masks.Region, CameraPolicy, MotionGrid, bool]] = {}

    @property
    def deadline_s(self) -> float:
        """The hold window in seconds: no frame leaves later than this after capture, except as the screen."""
        return self._deadline

    def poll(self) -> list[SafeFrame]:
        """Safe frames that became ready, or overdue, since the last call."""
        return self._release(final=False)

    def flush(self) -> list[SafeFrame]:
        """End of stream: give back everything still held (waiting, up to the deadline, beats screening)."""
        blocking, self._blocking = self._blocking, True
        try:
            return self._release(final=True)
        finally:
            self._blocking = blocking

    def _later_whole(self, index: int) -> tuple[Look | None, bool]:
        """The first whole-frame look on frames index..index+lookahead, and whether one may still come."""
        limit = index + self.policy.lookahead
        for look in self._wholes:
            if index <= look.index <= limit:
                return look, False
        may_come = self._last_seen < limit and self._last_whole + self.policy.detect_every <= limit
        return None, may_come

    def _wait(self, look: Look, frame: Frame) -> bool:
        """True when the look finished in time (successfully or not)."""
        if look.future.done():
            return True
        if not self._blocking:
            return False
        remaining = frame.arrived + self._deadline - self._clock()
        try:
            look.future.exception(timeout=max(0.0, remaining))
        except FutureTimeout:
            return False
        return True

    def _release(self, final: bool) -> list[SafeFrame]:
        out: list[SafeFrame] = []
        while self._pending:
            pending = self._pending[0]
            frame = pending.frame
            if frame.lost:
                out.append(self._screen(frame, reason=None))
                continue
            if pending.repeat:
                out.append(self._repeat(frame))
                continue
            if pending.vouchers is None:
                out.append(self._screen(frame, reason="unvouched"))
                continue
            age = self._clock() - frame.arrived
            overdue = age > self._deadline
            if overdue and not self._blocking:
                # Older than the hold window (counted from capture): it may not leave, masked or not.
                self._rate_changed(self.rate.press(self._clock()))
                out.append(self._screen(frame, reason="late"))
                continue
            # A live frame whose own detections are in waits for the look-ahead only this long: the look-ahead
            # adds boxes but the frame is valid without it, and waiting to the deadline would make it late.
            impatient = not self._blocking and age > LOOKAHEAD_PATIENCE * self._deadline
            later, may_come = self._later_whole(frame.index)
            if may_come and not final:
                if self._blocking and overdue:
                    out.append(self._screen(frame, reason="late"))
                    continue
                if not impatient:
                    break
            vouchers = pending.vouchers
            if not all(self._wait(d, frame) for d in vouchers):
                if final or overdue or self._blocking:
                    out.append(self._screen(frame, reason="late"))
                    continue
                pending.waited = True
                break
            needed = vouchers
            if later is not None and later not in vouchers:
                if self._wait(later, frame):
                    needed = (*vouchers, later)
                elif final or self._blocking:
                    out.append(self._screen(frame, reason="late"))
                    continue
                elif not impatient:
                    break
            if any(d.future.exception() is not None for d in needed):
                out.append(self._screen(frame, reason="failed"))
                continue
            if impatient and pending.waited:
                # Its own detections came back near the end of the hold window: ask for less before frames turn
                # into screens.
                self._rate_changed(self.rate.press(self._clock()))
            trail = self._trail_kept(pending)
            regions, partial = self._regions(pending, vouchers)
            regions += [box for d in needed if d not in vouchers for box in d.boxes()]
            loose: list[masks.Region] = [*pending.moving_text, *pending.monitors, *trail]
            out.append(self._mask(frame, regions, loose, partial))
        self._forget()
        return out

    def _regions(
        self, pending: Pending, vouchers: tuple[Look, ...]
    ) -> tuple[list[masks.Region], list[tuple[masks.Region, np.ndarray]]]:
        """What the frame's own looks found where each of them vouches for the picture.

        A look's region that reaches into cells a newer look answers for (a card that has since moved on) is masked
        only outside those cells: given as (region, cells where it stands) apart from the whole ones. Nor does such a
        region stand in a cell that a newer look verified: one that saw the region's whole place at the camera's own
        resolution, with the cell as it still is, and found nothing there (neither the detector nor the likeness
        check). The edge of a departed card changes too few pixels of the cells beside it for the motion grid to
        notice; without this, its masks would linger over the infant for as long as those cells keep their look.
        But a line that is mostly still where it was (more than LINE_LEFT_SHARE of where it may lie is in cells no
        newer look answers for) is masked whole: a hand over part of it leaves a glyph or two beside the hand, in
        the changed cells, that the newer look does not report (measured on tuning scene 9: a tenth of its PHI).
        """
        grid, owners, since = self._grid, pending.owners, pending.since
        if grid is None or owners is None or since is None:
            return [box for d in vouchers for box in d.boxes()], []
        whole: list[masks.Region] = []
        partial: list[tuple[masks.Region, np.ndarray]] = []
        table = owner_table(owners)
        for d in vouchers:
            # Cells that changed since d saw them; anywhere else (its own cells, or older looks' that have not changed
            # since before d) d's regions stand.
            newer = changed_since(owners, since, d, table)
            if not newer.any():
                whole += d.boxes()
                continue
            for region in d.boxes():
                touched = self._touched(region, grid)
                if not (touched & ~newer).any():
                    continue
                if (touched & newer).any():
                    gone = self._following.gone(region)
                    if not gone and self._still_there(region, newer):
                        whole.append(region)
                        continue
                    stands = ~newer & ~self._verified(region, d, vouchers, since, anywhere=gone)
                    if (touched & stands).any():
                        partial.append((region, stands))
                else:
                    whole.append(region)
        return whole, partial

    def _trail_kept(self, pending: Pending) -> list[Box]:
        """The cells of a moving group masked whole on this frame (see trail.py), as boxes."""
        grid, owners, since = self._grid, pending.owners, pending.since
        if grid is None or owners is None or since is None:
            return [] if pending.trail is None else [(0, 0, *pending.frame.image.shape[1::-1])]
        kept = self._following.kept(
            pending.trail,
            pending.frame.index,
            grid,
            owners,
            since,
            lambda r: self._touched(r, grid),
            lambda r: masks.reach(r, self.policy),
        )
        return [] if kept is None else grid.cell_boxes(kept)

    def _touched(self, region: masks.Region, grid: MotionGrid) -> np.ndarray:
        """The cells `region` reaches once grown (read-only; kept while the region object lives on in its look and
        the policy and grid stay)."""
        kept = self._touched_cache.get(id(region))
        if kept is not None and kept[0] is region and kept[1] is self.policy and kept[2] is grid:
            return kept[3]
        if len(self._touched_cache) > GROWN_KEPT:
            self._touched_cache.clear()
        touched = grid.cells_of([masks.grow(region, self.policy)])
        touched.flags.writeable = False
        self._touched_cache[id(region)] = (region, self.policy, grid, touched)
        return touched

    def _still_there(self, region: masks.Region, newer: np.ndarray) -> bool:
        """True when more than LINE_LEFT_SHARE of where the line may lie (`masks.reach`) is in cells no newer look
        answers for: the line may still be there, partly under a hand, say."""
        grid = self._grid
        if grid is None:
            return True
        # The same line asked with the same changed cells on the next frames gets the same answer.
        key = (id(region), newer.tobytes())
        kept = self._still_cache.get(key)
        if kept is not None and kept[0] is region and kept[1] is self.policy and kept[2] is grid:
            return kept[3]
        if len(self._still_cache) > GROWN_KEPT:
            self._still_cache.clear()
        answer = self._line_left(region, newer, grid)
        self._still_cache[key] = (region, self.policy, grid, answer)
        return answer

    def _line_left(self, region: masks.Region, newer: np.ndarray, grid: MotionGrid) -> bool:
        filled = _filled(masks.reach(region, self.policy), (grid.height, grid.width))
        if filled is None:
            return False
        box, own = filled
        kept = int(np.count_nonzero(own & grid.window(~newer, box)))
        return kept > LINE_LEFT_SHARE * max(1, int(np.count_nonzero(own)))

    def _verified(
        self, region: masks.Region, look: Look, vouchers: tuple[Look, ...], since: np.ndarray, anywhere: bool = False
    ) -> np.ndarray:
        """Cells a look newer than `look` saw clear of text, with the whole of `region`'s (grown) place in view,
        and that have not changed since (their current look answered for them before it looked); only asked for a
        line that has gone from where it was (`_still_there`). With `anywhere`, for a line a followed group carried
        off (trail.py: the line is known to be elsewhere now), a look that saw only part of its place will do: no
        part of the line is left to be cut by the look's crop."""
        grid = self._grid
        clear = np.zeros(since.shape, bool)
        if grid is None:
            return clear
        xs, ys = masks.grow(region, self.policy).T
        place = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
        for later in vouchers:
            if later.index > look.index and (anywhere or later.contains(place)):
                clear |= later.saw_clear(grid, self.policy) & (since <= later.index)
        return clear

    def _mask(
        self,
        frame: Frame,
        regions: list[masks.Region],
        loose: list[masks.Region],
        partial: Sequence[tuple[masks.Region, np.ndarray]] = (),
    ) -> SafeFrame:
        self._pending.popleft()
        self.counts.frames += 1
        # The grey picture is made only if a region is grown for the first time (its ends grow over the same paper).
        greys: list[np.ndarray] = []

        def grey() -> np.ndarray:
            if not greys:
                greys.append(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY))
            return greys[0]

        grown = [self._grown(region, grey) for region in regions]
        shape = frame.image.shape[:2]
        extra = None
        if partial and self._grid is not None:
            extra = np.zeros(shape, np.uint8)
            for region, cells in partial:
                filled = _filled(self._grown(region, grey), shape)
                if filled is not None:
                    (x0, y0, x1, y1), own = filled
                    extra[y0:y1, x0:x1] |= own & self._grid.window(cells, (x0, y0, x1, y1))
        polygons = [np.round(masks.as_quad(region)).astype(np.int32) for region in loose]
        covered = self._coverage(shape, grown, polygons, extra, regions)
        image = masks.apply(frame.image, covered, self.policy)
        self._last_safe = SafeFrame(image, frame.index, frame.pts, frame.time_base, frame.arrived, False, covered)
        return self._last_safe

    def _coverage(
        self,
        shape: tuple[int, int],
        grown: list[np.ndarray],
        polygons: list[np.ndarray],
        extra: np.ndarray | None,
        lines: list[masks.Region],
    ) -> np.ndarray:
        """masks.coverage, or the last frame's when it was made of the very same grown regions (the same objects,
        kept by _grown, so grown from the very same lines), the same loose polygons and policy, and no partly masked
        region. When only the loose polygons or the partly masked regions differ, the last lines and blocks
        (masks.line_cover, the costly part) are reused under them."""
        loose = [p.tobytes() for p in polygons]
        kept = self._coverage_kept
        if (
            extra is None
            and kept is not None
            and kept[2] is self.policy
            and kept[3] == shape
            and _same(kept[0], grown)
            and kept[1] == loose
        ):
            return kept[4]
        lines_kept = self._lines_kept
        if lines_kept is not None and lines_kept[1] == shape and _same(lines_kept[0], grown):
            layer = lines_kept[2]
        else:
            layer = masks.line_cover(shape, grown, lines, self._blocks_memo)
            layer.flags.writeable = False
            self._lines_kept = (grown, shape, layer)
        covered = masks.coverage(shape, self.policy, (), polygons, extra, base=layer)
        # Frames share it (as a repeated frame shares its predecessor's); nothing may change it.
        covered.flags.writeable = False
        self._coverage_kept = None if extra is not None else (grown, loose, self.policy, shape, covered)
        return covered

    def _grown(self, region: masks.Region, grey: Callable[[], np.ndarray]) -> np.ndarray:
        kept = self._grown_cache.get(id(region))
        if kept is not None and kept[0] is region:
            return kept[1]
        if len(self._grown_cache) > GROWN_KEPT:
            self._grown_cache.clear()
        grown = masks.grow(region, self.policy, grey())
        self._grown_cache[id(region)] = (region, grown)
        return grown

    def _repeat(self, frame: Frame) -> SafeFrame:
        """The last safe picture again in `frame`'s place (the screen when the last one was not safe)."""
        last = self._last_safe
        if last is None:
            return self._screen(frame, reason=None)
        self._pending.popleft()
        self.counts.frames += 1
        self.counts.repeated += 1
        return SafeFrame(last.image, frame.index, frame.pts, frame.time_base, frame.arrived, False, last.covered)

    def _rate_changed(self, changed: bool) -> None:
        if changed and self.on_rate is not None:
            self.on_rate(self.rate.stride)

    def _screen(self, frame: Frame, reason: str | None) -> SafeFrame:
        """The privacy screen for `frame`; `reason` is None for frames the source had already lost."""
        self._pending.popleft()
        self.counts.frames += 1
        self.counts.screened += 1
        self._last_safe = None
        if reason is not None:
            self.counts.failures += 1
            setattr(self.counts, reason, getattr(self.counts, reason) + 1)
        return screened(frame)

    def _forget(self) -> None:
        """Drop whole-frame looks no pending or future frame can use."""
        oldest = self._pending[0].frame.index if self._pending else self._last_seen + 1
        while self._wholes and self._wholes[0].index < oldest:
            self._wholes.popleft()


def _same(kept: list[np.ndarray], grown: list[np.ndarray]) -> bool:
    """The very same grown regions (the same objects, in order)."""
    return len(kept) == len(grown) and all(a is b for a, b in zip(kept, grown, strict=True))


def _filled(polygon: np.ndarray, shape: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
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
