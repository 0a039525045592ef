"""The per-camera redaction stage: schedule detections, hold them across frames, and fail closed."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import cv2
import numpy as np

from cradle.media.frames import Box, Frame, SafeFrame, screened
from cradle.media.redact import masks
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.policy import CameraPolicy
from cradle.media.redact.pool import DetectorPool
from cradle.media.redact.rate import FrameRate

# Above this share of the frame, one whole-frame detection is cheaper than crops of the moving parts.
WHOLE_FRAME_SHARE = 0.4
# After the pool refuses work, a camera waits this many frames before asking again (its unvouched frames are
# screened meanwhile): retrying at once, with the whole frame, would only deepen the overload.
RETRY_FRAMES = 3
# Changed cells next to changed cells with text a finished look found are masked whole (text on the move).
_NEAR_TEXT = np.ones((3, 3), np.uint8)
# Share of the deadline a live frame waits for its look-ahead detection once its own detections are in.
LOOKAHEAD_PATIENCE = 0.75


@dataclass(slots=True, eq=False)
class _Detection:
    index: int
    future: Future
    whole: bool
    box: Box | None = None  # the crop it looked at (None: the whole frame)
    # Boxes that earlier detections found in cells that have not moved since: still valid there, and kept so
    # that one look missing a line the previous look found does not unmask it.
    inherited: tuple[masks.Region, ...] = ()
    cells: np.ndarray | None = None  # the grid cells its regions touch, once finished

    def boxes(self) -> list[masks.Region]:
        return [*self.future.result(), *self.inherited]


@dataclass(slots=True)
class _Pending:
    frame: Frame
    # The detections that vouch for every part of this frame, or None when some part has none.
    vouchers: tuple[_Detection, ...] | None
    # Cells masked whole on this frame: they changed, and text was found in or next to them a moment ago.
    moving_text: list[Box] = field(default_factory=list)
    # Shown as a repeat of the last safe frame: the camera is redacting fewer frames to keep up.
    repeat: bool = False
    # A release found its own detections not back yet (not just the look-ahead): the pool is slow for it.
    waited: bool = False
    # Which detection vouches for each cell of this frame.
    owners: np.ndarray | None = None


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


class Redactor:
    """Turns a camera's raw frames into safe frames, in order, delayed by at most the hold window.

    The picture is a grid of cells (about 32 px). Each cell remembers the last two detections that looked at it
    and the thumbnails they saw. A detection *vouches* for cell c of frame i when
      - it is one of those two: it looked at c (the whole frame, or a crop containing c) on a frame d <= i,
      - frame i's cell c matches what the detection saw there (MotionGrid: no change beyond noise and shake),
      - it is younger than the policy's `max_age` (i - d < detect_every + hold_frames), and
      - it finished in time (by the watchdog deadline) without raising.
    Every frame, cells that moved, and cells whose detection failed or is missing, are detected again on a crop
    (with one cell of margin) of that very frame, or on the whole frame when much moved; the whole frame is
    detected again every `detect_every` frames regardless. So a card that appears or moves is looked at on the
    frame it appears in, and that frame waits for the result. A group of moved cells that stops is looked at once
    more, as a whole, on the first frame it rests (crops of a card's moving edges may cut its lines), and that look
    vouches for the group's box; until then every cell the group moved through is masked whole.
    Frame i is masked with the static zones, the boxes of all detections vouching for it (a whole-frame one also
    keeps the boxes earlier looks found in cells that had not moved), and the boxes of the first whole-frame
    detection on frames i..i+lookahead (text only a later look finds is masked before too).
    If any cell has no voucher, or a voucher failed or is not ready by the deadline, frame i becomes the privacy
    screen; so does a failed look-ahead detection, and a late one in blocking mode (a live frame whose vouchers
    are in goes out without a look-ahead that is late only because the pool is busy).
    `deadline_s` is the watchdog budget per frame (for live cameras, the hold window in seconds).
    `blocking` waits for detections up to the deadline (files); otherwise the caller polls.
    """

    def __init__(
        self,
        policy: CameraPolicy,
        pool: DetectorPool,
        *,
        fps: float = 15.0,
        deadline_s: float | None = None,
        blocking: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._pool = pool
        self._deadline = deadline_s if deadline_s is not None else policy.hold_frames / fps
        self._blocking = blocking
        self._clock = clock
        self._pending: deque[_Pending] = deque()
        self._wholes: deque[_Detection] = deque()  # whole-frame detections not yet behind every pending frame
        self._grid: MotionGrid | None = None
        self._vouchers = np.empty((0, 0), object)  # each cell's current detection
        self._previous = np.empty((0, 0), object)  # and the one before, with what it saw kept by the grid
        self._last_whole = -(10**9)
        self._last_seen = -1
        self._retry_at = -(10**9)
        self._phase = pool.stagger(policy.detect_every)
        self._moving_text: list[Box] = []
        # Cells that moved since a look saw them at rest: once their group stops, one look at the whole settled
        # group vouches for it (crops of the moving edges may cut a card's lines, and a dim card's inside hardly
        # changes, so it could keep the look from before it came).
        self._episode = np.zeros((0, 0), bool)
        self._refresh: _Detection | None = None  # the safety schedule's look, running in the background
        self._refresh_thumb: np.ndarray | None = None
        self._last_safe: SafeFrame | None = None
        self.rate = FrameRate()
        # Called with the new frames-redacted-per-frame-shown whenever overload changes it (the worker logs it).
        self.on_rate: Callable[[int], None] | None = None
        self.counts = RedactionCounts()

    @property
    def deadline_s(self) -> float:
        """The hold window in seconds: no frame leaves later than this after capture, except as the screen."""
        return self._deadline

    def push(self, frame: Frame) -> list[SafeFrame]:
        """Take one raw frame; give back the safe frames that are ready, oldest first."""
        if not self._blocking:
            self._rate_changed(self.rate.relax(self._clock()))
        if not frame.lost and not self._blocking and self.rate.skip(frame.index):
            self._pending.append(_Pending(frame, None, repeat=True))
            self._last_seen = frame.index
            return self._release(final=False)
        vouchers = None if frame.lost else self._check(frame)
        owners = self._vouchers.copy() if vouchers is not None else None
        self._pending.append(_Pending(frame, vouchers, self._moving_text, owners=owners))
        self._last_seen = frame.index
        return self._release(final=False)

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

    # Deciding what to detect and who vouches for each cell.

    def _check(self, frame: Frame) -> tuple[_Detection, ...] | None:
        image = frame.image
        height, width = image.shape[:2]
        grid = self._grid
        if grid is None or (grid.width, grid.height) != (width, height):
            grid = self._grid = MotionGrid(width, height, self.policy.motion_threshold, self.policy.motion_share)
            self._vouchers = np.full(grid.shape, None, object)
            self._previous = np.full(grid.shape, None, object)
            self._episode = np.zeros(grid.shape, bool)
        thumb = grid.thumbnail(image)
        self._install_refresh(grid)
        moved = grid.changed(thumb)
        # Text that moves (a card slid along, lifted, blurred by the motion) may be missed by the look at this very
        # frame: where cells with text just found changed, they and the changed cells next to them are masked whole.
        # Only text that itself changed counts: an infant stirring beside a card that stays is not masked.
        moving = (moved & self._found_text(grid)).astype(np.uint8)
        self._moving_text = grid.cell_boxes(moved & cv2.dilate(moving, _NEAR_TEXT).astype(bool)) if moving.any() else []
        if moved.any():
            # A cell back to what its previous detection saw is vouched for by that one, if it still may.
            back = moved & ~grid.changed(thumb, 1) & ~self._unusable(frame.index, self._previous)
            if back.any():
                grid.swap(back)
                self._vouchers[back], self._previous[back] = self._previous[back], self._vouchers[back]
                moved &= ~back
        self._episode |= moved
        need = moved | self._unusable(frame.index)
        if frame.index < self._retry_at:
            self._vouchers[need] = None
            return self._vouched(frame.index)
        scheduled = frame.index - self._last_whole >= self.policy.detect_every
        if scheduled and self._refresh is None and grid.area(need) <= WHOLE_FRAME_SHARE and not self._blind():
            # The safety schedule's look runs in the background: the picture's cells keep the looks that vouch for
            # them (they may, for up to detect_every + hold_frames) and take the new one once it is back.
            detection = self._submit(frame, None, whole=True, side=self.policy.refresh_side)
            if detection is not None:
                detection.inherited = self._still_valid(need)
                self._refresh, self._refresh_thumb = detection, thumb.copy()
                self._last_whole = frame.index - (self._phase if self._last_whole < 0 else 0)
            scheduled = False
        if scheduled or grid.area(need) > WHOLE_FRAME_SHARE:
            detection = self._submit(frame, None, whole=True)
            if detection is not None:
                detection.inherited = self._still_valid(need)
                self._previous[:] = self._vouchers
                self._vouchers[:] = detection
                grid.settle(thumb)
                # The first whole-frame detection is shifted by the camera's phase in the schedule.
                self._last_whole = frame.index - (self._phase if self._last_whole < 0 else 0)
                need[:] = False
                self._episode[:] = False
            else:
                # The pool refused: what moved has no valid detection; try again on the next frame.
                self._vouchers[need] = None
                need[:] = False
        for box, cells in grid.regions(need) if need.any() else ():
            detection = self._submit(frame, box, whole=False)
            if detection is None:
                self._vouchers[cells] = None
                continue
            self.counts.motion_detections += 1
            self._previous[cells] = self._vouchers[cells]
            self._vouchers[cells] = detection
            grid.settle(thumb, cells)
        self._look_at_rest(frame, grid, moved)
        if self._episode.any():
            # A group still on the move may carry text no look can read yet (cut by the frame's edge or a crop,
            # blurred by the motion): every cell it moved through is masked whole until it rests and is looked at.
            # This fails closed at a price: an infant who stirs is masked too, for as long as the stirring lasts.
            self._moving_text = [*self._moving_text, *grid.cell_boxes(self._episode)]
        return self._vouched(frame.index)

    def _look_at_rest(self, frame: Frame, grid: MotionGrid, moved: np.ndarray) -> None:
        """Groups of cells that moved and now stopped are looked at once more, whole, on this frame; that look
        vouches for every cell of the group's box (unless one look at a box containing it already does: a card
        that came in one frame). Refused, the box has no voucher (the frame is screened and the cells are looked
        at again on the next frames).

        The new look takes the place of the current looks that found nothing in a cell ("no detection is not
        nothing there"); a look that found text keeps its cells, and its text stays masked, while what the new look
        finds is masked wherever it is. The cells have not moved since their current looks, so the previous looks,
        with what they saw, are kept (a card lifted off again is back to a picture a look has seen).
        """
        if not self._episode.any():
            return
        for box, cells, group in grid.settled(self._episode, moved):
            self._episode &= ~group
            owners = set(self._vouchers[group].flat)
            if len(owners) == 1 and _contains(next(iter(owners)), box):
                continue
            cells = cells & self._nothing_found(grid)
            detection = self._submit(frame, box, whole=False)
            if detection is None:
                self._vouchers[cells] = None
                continue
            self.counts.motion_detections += 1
            self._vouchers[cells] = detection

    def _nothing_found(self, grid: MotionGrid) -> np.ndarray:
        """Cells whose current look is missing, or finished and found nothing there."""
        found = np.zeros(grid.shape, bool)
        running = np.zeros(grid.shape, bool)
        for d in set(self._vouchers.flat):
            if d is None:
                continue
            mine = self._vouchers == d
            if not d.future.done():
                running |= mine
            elif d.future.exception() is None:
                if d.cells is None:
                    d.cells = grid.cells_of([masks.grow(r, self.policy) for r in d.boxes()])
                found |= mine & d.cells
        return ~found & ~running

    def _blind(self) -> bool:
        """True while some cell has no detection at all (the camera's first frames)."""
        return any(d is None for d in self._vouchers.flat)

    def _install_refresh(self, grid: MotionGrid) -> None:
        """A background look that is back vouches, from now on, for the cells whose own look is older than it."""
        refresh, thumb = self._refresh, self._refresh_thumb
        if refresh is None or thumb is None or not refresh.future.done():  # (the two are set together)
            return
        self._refresh = None
        if refresh.future.exception() is not None:
            return  # the cells keep their looks until those are too old; the next schedule tries again
        older = np.array([d is None or d.index < refresh.index for d in self._vouchers.flat]).reshape(grid.shape)
        if older.any():
            self._previous[older] = self._vouchers[older]
            self._vouchers[older] = refresh
            grid.settle(thumb, older)

    def _found_text(self, grid: MotionGrid) -> np.ndarray:
        """Cells in which the finished detections of the current and previous looks found something."""
        cells = np.zeros(grid.shape, bool)
        for d in set(self._vouchers.flat) | set(self._previous.flat):
            if d is None or not d.future.done() or d.future.exception() is not None:
                continue
            if d.cells is None:
                d.cells = grid.cells_of([masks.grow(r, self.policy) for r in d.boxes()])
            cells |= d.cells
        return cells

    def _vouched(self, index: int) -> tuple[_Detection, ...] | None:
        vouchers = set(self._vouchers.flat)
        if None in vouchers or any(index - d.index >= self.policy.max_age for d in vouchers):
            return None
        return tuple(vouchers)

    def _still_valid(self, moved: np.ndarray) -> tuple[masks.Region, ...]:
        """Regions found by the finished detections that vouch for cells which have not moved."""
        out: list[masks.Region] = []
        for d in set(self._vouchers[~moved].flat):
            if d is not None and d.future.done() and d.future.exception() is None:
                out += d.future.result()
        return tuple(out)

    def _unusable(self, index: int, vouchers: np.ndarray | None = None) -> np.ndarray:
        """Cells whose (current, unless `vouchers` says otherwise) detection is missing, failed or too old to
        vouch for frame `index`."""
        vouchers = self._vouchers if vouchers is None else vouchers
        bad = {
            id(d)
            for d in set(vouchers.flat)
            if d is None
            or index - d.index >= self.policy.max_age
            or (d.future.done() and d.future.exception() is not None)
        }
        if not bad:
            return np.zeros(vouchers.shape, bool)
        return np.array([id(d) in bad for d in vouchers.flat], bool).reshape(vouchers.shape)

    def _submit(self, frame: Frame, region: Box | None, whole: bool, side: int | None = None) -> _Detection | None:
        """Send a detection to the pool; None when it was refused at once (closed or overloaded)."""
        self.counts.detections += 1
        try:
            if region is None:
                region = self._shown_box(frame.image)
            future = self._pool.submit(
                frame.image,
                self.policy.faces,
                self.policy.detect_side if side is None else side,
                region,
                self.policy.likeness,
            )
        except Exception:  # a broken pool must screen frames, not crash the camera
            future = None
        if future is None or (future.done() and future.exception() is not None):
            self._retry_at = frame.index + RETRY_FRAMES
            if not self._blocking:
                self._rate_changed(self.rate.press(self._clock()))
            return None
        detection = _Detection(frame.index, future, whole, None if whole else region)
        if whole:
            self._wholes.append(detection)
        return detection

    def _shown_box(self, image: np.ndarray) -> Box | None:
        """The upright box around the shown area (nothing outside it is shown, so nothing there needs a look)."""
        area = self.policy.shown_area
        if area is None:
            return None
        height, width = image.shape[:2]
        xs, ys = [x * width for x, _ in area], [y * height for _, y in area]
        box = (
            max(0, math.floor(min(xs))),
            max(0, math.floor(min(ys))),
            min(width, math.ceil(max(xs))),
            min(height, math.ceil(max(ys))),
        )
        return box if box[2] > box[0] and box[3] > box[1] else (0, 0, 1, 1)

    # Releasing frames.

    def _later_whole(self, index: int) -> tuple[_Detection | None, bool]:
        """The first whole-frame detection on frames index..index+lookahead, and whether one may still come."""
        limit = index + self.policy.lookahead
        for detection in self._wholes:
            if index <= detection.index <= limit:
                return detection, False
        may_come = self._last_seen < limit and self._last_whole + self.policy.detect_every <= limit
        return None, may_come

    def _wait(self, detection: _Detection, frame: Frame) -> bool:
        """True when the detection finished in time (successfully or not)."""
        if detection.future.done():
            return True
        if not self._blocking:
            return False
        remaining = frame.arrived + self._deadline - self._clock()
        try:
            detection.future.exception(timeout=max(0.0, remaining))
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
            regions, partial = self._regions(pending, vouchers)
            regions += [box for d in needed if d not in vouchers for box in d.boxes()]
            out.append(self._mask(frame, regions, pending.moving_text, partial))
        self._forget()
        return out

    def _regions(
        self, pending: _Pending, vouchers: tuple[_Detection, ...]
    ) -> tuple[list[masks.Region], list[tuple[masks.Region, np.ndarray]]]:
        """What the frame's own detections found where each of them vouches for the picture.

        A look's region that reaches into cells a newer look answers for (a card that has since moved on) is masked
        only outside those cells: given as (region, cells where it stands) apart from the whole ones.
        """
        grid, owners = self._grid, pending.owners
        if grid is None or owners is None:
            return [box for d in vouchers for box in d.boxes()], []
        whole: list[masks.Region] = []
        partial: list[tuple[masks.Region, np.ndarray]] = []
        for d in vouchers:
            # Cells a newer look answers for; anywhere else (its own cells, or older looks') d's regions stand.
            newer = np.array([o is not None and o.index > d.index for o in owners.flat]).reshape(owners.shape)
            if not newer.any():
                whole += d.boxes()
                continue
            for region in d.boxes():
                touched = grid.cells_of([masks.grow(region, self.policy)])
                if not (touched & ~newer).any():
                    continue
                if (touched & newer).any():
                    partial.append((region, ~newer))
                else:
                    whole.append(region)
        return whole, partial

    def _mask(
        self,
        frame: Frame,
        regions: list[masks.Region],
        moving: list[Box],
        partial: Sequence[tuple[masks.Region, np.ndarray]] = (),
    ) -> SafeFrame:
        self._pending.popleft()
        self.counts.frames += 1
        grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY) if regions or partial else None
        grown = [masks.grow(region, self.policy, grey) for region in regions]
        loose = [np.round(masks.as_quad(box)).astype(np.int32) for box in moving]
        shape = frame.image.shape[:2]
        extra = None
        if partial and self._grid is not None:
            extra = np.zeros(shape, np.uint8)
            for region, cells in partial:
                own = np.zeros(shape, np.uint8)
                cv2.fillConvexPoly(own, masks.grow(region, self.policy, grey), 1)
                extra |= own & self._grid.cell_pixels(cells)
        covered = masks.coverage(shape, self.policy, grown, loose, extra)
        image = masks.apply(frame.image, covered, self.policy)
        self._last_safe = SafeFrame(image, frame.index, frame.pts, frame.time_base, frame.arrived, False, covered)
        return self._last_safe

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
        """Drop whole-frame detections no pending or future frame can use."""
        oldest = self._pending[0].frame.index if self._pending else self._last_seen + 1
        while self._wholes and self._wholes[0].index < oldest:
            self._wholes.popleft()


def _contains(detection: _Detection | None, box: Box) -> bool:
    """True when `detection` looked at all of `box` at once."""
    if detection is None:
        return False
    if detection.box is None:
        return True
    x0, y0, x1, y1 = detection.box
    return x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1
