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
from cradle.media.redact.cover import GROWN_KEPT, Coverer, fill_in_box
from cradle.media.redact.ink import InkMemory
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
# A repeat shows the last safe picture only while that was captured less than this many hold windows ago; after that
# it is the screen, so a camera far behind its own queue never shows an old picture as the live one.
REPEAT_HOLDS = 2.0


@dataclass(slots=True)
class Pending:
    frame: Frame
    # The looks that vouch for every part of this frame, or None when some part has none.
    vouchers: tuple[Look, ...] | None
    # Cells masked whole on this frame: they changed, and text was found in or next to them a moment ago.
    moving_text: list[Box] = field(default_factory=list)
    # Shown as a repeat of the last safe frame: the camera is redacting fewer frames to keep up.
    repeat: bool = False
    # ... or because it was older than the hold window when the camera took it (no look could make it in time).
    late: bool = False
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
    # some part had no valid detection (moved, refused, failed earlier or too old), or the camera's newest look failed
    unvouched: int = 0
    late: int = 0  # a detection the frame needed was not back by the deadline, or the frame itself was too old
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
        # The newest look seen to finish (its frame), and whether it failed: see `_note`.
        self._newest: tuple[int, bool] = (-1, False)
        self.rate = FrameRate()
        # Called with the new frames-redacted-per-frame-shown whenever overload changes it (the worker logs it).
        self.on_rate: Callable[[int], None] | None = None
        self.counts = RedactionCounts()
        self._following = Following()  # how many lines the group on the move has held (trail.py)
        # The grown regions and the coverage they make, kept while the same regions stand (cover.py).
        self._cover = Coverer()
        # Each line's ink as its look saw it: a line some of whose ink still shows is masked whole (ink.py).
        self._ink = InkMemory()
        # Each found region's cells (grown, without the picture): asked for every region of every frame.
        self._touched_cache: dict[int, tuple[masks.Region, CameraPolicy, MotionGrid, np.ndarray]] = {}
        # `_still_there`'s answers, by region and the cells newer looks answer for.
        self._still_cache: dict[tuple[int, bytes], tuple[masks.Region, CameraPolicy, MotionGrid, bool]] = {}

    @property
    def deadline_s(self) -> float:
        """The hold window in seconds: no frame leaves later than this after capture, except as the screen."""
        return self._deadline

    @property
    def failing(self) -> bool:
        """True while the newest look this camera has seen finish failed (raised, or was not back by the deadline):
        every frame is then screened, whatever older looks vouch for it, until a newer look succeeds."""
        return self._newest[1]

    def _note(self, looks: Sequence[Look], late: Sequence[Look] = ()) -> None:
        """Takes note of how `looks` went, those that finished and the `late` ones (not back by the deadline).

        A failing detector cannot go on vouching for cells through the looks it made before it failed: where only a
        monitor's screen changes (masked whole, not looked at) or nothing does, nothing else would ask it again
        until those looks are too old, and the camera would show the picture for seconds with a detector that
        raises. So the newest look decides, by its frame (a failure wins a tie, and a late look stays a failure
        when it is back after all); noting the same looks again changes nothing."""
        newest = self._newest
        for look in looks:
            if look in late:
                newest = max(newest, (look.index, True))
            elif look.future.done():
                newest = max(newest, (look.index, look.future.exception() is not None))
        self._newest = newest

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
                out.append(self._repeat(frame, pending.late))
                continue
            if pending.vouchers is None:
                out.append(self._screen(frame, reason="unvouched"))
                continue
            age = self._clock() - frame.arrived
            overdue = age > self._deadline
            if overdue and not self._blocking:
                # Older than the hold window (counted from capture): it may not leave, masked or not.
                self._note(pending.vouchers, late=[d for d in pending.vouchers if not d.future.done()])
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
                    self._note(vouchers, late=[d for d in vouchers if not d.future.done()])
                    out.append(self._screen(frame, reason="late"))
                    continue
                pending.waited = True
                break
            needed = vouchers
            if later is not None and later not in vouchers:
                if self._wait(later, frame):
                    needed = (*vouchers, later)
                elif final or self._blocking:
                    self._note((*vouchers, later), late=(later,))
                    out.append(self._screen(frame, reason="late"))
                    continue
                elif not impatient:
                    break
            self._note(needed)
            if any(d.future.exception() is not None for d in needed):
                out.append(self._screen(frame, reason="failed"))
                continue
            if self.failing:
                out.append(self._screen(frame, reason="unvouched"))
                continue
            if impatient and pending.waited:
                # Its own detections came back near the end of the hold window: ask for less before frames turn
                # into screens.
                self._rate_changed(self.rate.press(self._clock()))
            self._keep_ink(vouchers)
            trail = self._trail_kept(pending)
            regions, partial = self._regions(pending, vouchers)
            regions += self._following.located
            for ahead in (d for d in needed if d not in vouchers):
                whole, cut = self._ahead(pending, ahead)
                regions += whole
                partial += cut
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
        the changed cells, that the newer look does not report (measured on tuning scene 9: a tenth of its PHI). So is
        a line some of whose ink still shows as its look saw it, pixel by pixel, wherever its cells changed (ink.py:
        a hand over most of a card leaves a sliver of a line below its edge).
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
            # Lines an earlier look found on a group now located elsewhere (trail.py `left`) are masked where it is.
            index, image = pending.frame.index, pending.frame.image
            boxes = [r for r in d.boxes() if d.index == index or not self._following.left(r, d.index, image)]
            if not newer.any():
                whole += boxes
                continue
            for region in boxes:
                touched = self._touched(region, grid)
                if not (touched & ~newer).any():
                    continue
                if (touched & newer).any():
                    gone = self._following.gone(region)
                    if not gone and (self._still_there(region, newer) or self._ink.shows(region, pending.frame.image)):
                        whole.append(region)
                        continue
                    stands = ~newer & ~self._verified(region, d, vouchers, since, anywhere=gone)
                    if (touched & stands).any():
                        partial.append((region, stands))
                else:
                    whole.append(region)
        return whole, partial

    def _keep_ink(self, vouchers: tuple[Look, ...]) -> None:
        """Keep the ink of the lines the frame's finished looks found, as they saw it (ink.py), once per look."""
        for d in vouchers:
            if d.image is not None and d.future.done():
                if d.ok:
                    self._ink.keep(d.future.result(), d.image)
                d.image = None

    def _ahead(self, pending: Pending, ahead: Look) -> tuple[list[masks.Region], list[tuple[masks.Region, np.ndarray]]]:
        """The regions a later whole-frame look found, for an earlier frame: text it found that the frame's own looks
        missed is masked there too, except in cells that changed between the two frames away from the frame's own
        text. There the later look saw another picture (tuning 34009: a card carried up over the infant; the
        look-ahead masked it, a few frames early, where it was about to be). Given as (regions masked whole, (region,
        cells where it stands))."""
        grid, index = self._grid, pending.frame.index
        later = next((p for p in self._pending if p.frame.index == ahead.index), None)
        if grid is None or later is None or later.since is None or ahead.index == index:
            return ahead.boxes(), []
        changed = later.since > index
        if not changed.any():
            return ahead.boxes(), []
        # ... nor in or beside the cells of text the frame's own looks found: there a line the later look found may
        # be one they found only in part (tuning 37012: a sliding card's line whose last glyph only the look-ahead
        # masked).
        text = np.zeros(changed.shape, np.uint8)
        for look in pending.vouchers or ():
            for region in look.boxes():
                text |= self._touched(region, grid)
        changed &= ~cv2.dilate(text, np.ones((3, 3), np.uint8)).astype(bool)
        whole: list[masks.Region] = []
        cut: list[tuple[masks.Region, np.ndarray]] = []
        for region in ahead.boxes():
            touched = self._touched(region, grid)
            if not (touched & changed).any():
                whole.append(region)
            elif (touched & ~changed).any():
                cut.append((region, ~changed))
        return whole, cut

    def _trail_kept(self, pending: Pending) -> list[Box]:
        """The cells of a moving group masked whole on this frame (see trail.py), as boxes."""
        grid, owners, since = self._grid, pending.owners, pending.since
        self._following.located = []
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
            pending.frame.image,
            self._ink,
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
        filled = fill_in_box(masks.reach(region, self.policy), (grid.height, grid.width))
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

        grown = [self._cover.grown(region, self.policy, grey) for region in regions]
        shape = frame.image.shape[:2]
        extra = None
        if partial and self._grid is not None:
            extra = np.zeros(shape, np.uint8)
            for region, cells in partial:
                filled = fill_in_box(self._cover.grown(region, self.policy, grey), shape)
                if filled is not None:
                    (x0, y0, x1, y1), own = filled
                    extra[y0:y1, x0:x1] |= own & self._grid.window(cells, (x0, y0, x1, y1))
        polygons = [np.round(masks.as_quad(region)).astype(np.int32) for region in loose]
        covered = self._cover.coverage(shape, self.policy, grown, polygons, extra, regions)
        image = masks.apply(frame.image, covered, self.policy)
        self._last_safe = SafeFrame(image, frame.index, frame.pts, frame.time_base, frame.arrived, False, covered)
        return self._last_safe

    def _repeat(self, frame: Frame, late: bool = False) -> SafeFrame:
        """The last safe picture again in `frame`'s place: the screen when the last frame was screened for anything
        but its age, while a look fails, or when that picture is over REPEAT_HOLDS hold windows old. `late`: the
        frame was too old to be redacted (counted as such when screened)."""
        last = self._last_safe
        if last is None or self.failing or self._clock() - last.arrived > REPEAT_HOLDS * self._deadline:
            return self._screen(frame, reason="late" if late else None)
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
        if reason != "late":
            # A frame screened only for its age leaves the last safe picture safe to repeat (while it is recent).
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
