"""The per-camera redaction stage: schedule detections, hold them across frames, and fail closed."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import cv2
import numpy as np

from cradle.media.frames import Box, Frame, SafeFrame
from cradle.media.redact.cover import GROWN_KEPT
from cradle.media.redact.ink import SHAKE_PX
from cradle.media.redact.looks import CellLooks, Look, owner_table
from cradle.media.redact.masks import Region, as_quad
from cradle.media.redact.monitors import find_monitors
from cradle.media.redact.motion import MotionGrid
from cradle.media.redact.policy import CameraPolicy
from cradle.media.redact.pool import DetectorPool
from cradle.media.redact.release import Pending, Releasing
from cradle.media.redact.trail import Trail

# Above this share of the frame, one whole-frame detection is cheaper than crops of the moving parts.
WHOLE_FRAME_SHARE = 0.4
# After the pool refuses work, a camera waits this many frames before asking again (its unvouched frames are
# screened meanwhile): retrying at once, with the whole frame, would only deepen the overload.
RETRY_FRAMES = 3
# A live frame taken from the camera's queue later than this share of the hold window after capture means the camera
# is falling behind: it redacts fewer frames before its frames turn into screens.
BEHIND_SHARE = 0.5
# Changed cells next to changed cells with text a finished look found are masked whole (text on the move).
_NEAR_TEXT = np.ones((3, 3), np.uint8)


class Redactor(Releasing):
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
    are in goes out without a look-ahead that is late only because the pool is busy). And once a look fails (raises,
    or is late past the deadline), every frame is the screen until a newer look succeeds (Releasing.failing): the
    looks from before cannot go on vouching for a detector that fails, and the safety schedule's look is asked for
    at once to see whether it works again.
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
        phase: int | None = None,
    ) -> None:
        super().__init__(deadline_s if deadline_s is not None else policy.hold_frames / fps, blocking, clock)
        self.policy = policy
        self._pool = pool
        self._grid: MotionGrid | None = None
        self._looks = CellLooks()  # each cell's current look, and the one before (what they saw: the grid)
        self._last_whole = -(10**9)
        self._retry_at = -(10**9)
        # Which frame of the whole-frame detection period this camera asks on (see DetectorPool.stagger); given, it
        # makes a run repeatable whatever ran on the pool before (a clip of the quality suite, by its seed).
        self._phase = pool.stagger(policy.detect_every) if phase is None else phase % max(1, policy.detect_every)
        self._moving_text: list[Box] = []
        # Cells that moved since a look saw them at rest: once their group stops, one look at the whole settled
        # group vouches for it (crops of the moving edges may cut a card's lines, and a dim card's inside hardly
        # changes, so it could keep the look from before it came).
        self._episode = np.zeros((0, 0), bool)
        # Cells of text seen moving (with a ring), masked whole until the episode has come to rest.
        self._carried = np.zeros((0, 0), bool)
        # Cells of the two above that the moving group has left (trail.py): masked unless their look saw them clear.
        self._trail: Trail | None = None
        self._flipped = np.zeros((0, 0), bool)  # cells that went back to their previous look on the last frame
        self._refresh: Look | None = None  # the safety schedule's look, running in the background
        self._refresh_thumb: np.ndarray | None = None
        # Monitor screens seen lately, masked until the safety schedule's span has passed without seeing them.
        self._monitors: list[np.ndarray] = []
        self._monitors_until = -1
        # Each found line's cells, not grown, by region identity (`_reach`).
        self._reach_cache: dict[int, tuple[Region, MotionGrid, np.ndarray]] = {}

    def push(self, frame: Frame) -> list[SafeFrame]:
        """Take one raw frame; give back the safe frames that are ready, oldest first."""
        late = False
        if not self._blocking:
            now = self._clock()
            self._rate_changed(self.rate.relax(now))
            age = -1.0 if frame.lost else now - frame.arrived
            if age > BEHIND_SHARE * self._deadline:
                self._rate_changed(self.rate.press(now))
            # Too old for any look to make it in time: it costs no look, so the camera catches up with its queue.
            late = age > self._deadline
        if not frame.lost and not self._blocking and (late or self.rate.skip(frame.index)):
            self._pending.append(Pending(frame, None, repeat=True, late=late))
            self._last_seen = frame.index
            return self._release(final=False)
        vouchers = None if frame.lost else self._check(frame)
        owners = since = None
        if vouchers is not None:
            self._looks.mark(frame.index)
            owners, since = self._looks.current.copy(), self._looks.since.copy()
        pending = Pending(
            frame, vouchers, self._moving_text, owners=owners, since=since, monitors=self._monitors, trail=self._trail
        )
        self._pending.append(pending)
        self._last_seen = frame.index
        return self._release(final=False)

    # Deciding what to detect and who vouches for each cell.

    def _check(self, frame: Frame) -> tuple[Look, ...] | None:
        image = frame.image
        height, width = image.shape[:2]
        grid = self._grid
        if grid is None or (grid.width, grid.height) != (width, height):
            grid = self._grid = MotionGrid(width, height, self.policy.motion_threshold, self.policy.motion_share)
            self._looks = CellLooks(grid.shape)
            self._episode = np.zeros(grid.shape, bool)
            self._carried = np.zeros(grid.shape, bool)
            self._flipped = np.zeros(grid.shape, bool)
        thumb = grid.thumbnail(image)
        self._see_monitors(frame.index, thumb, width, height)
        self._install_refresh(grid)
        looks, max_age = self._looks, self.policy.max_age
        text = looks.found_text(grid, self.policy)
        # Everywhere, a change is judged against the contrast around each cell where that is lower than the
        # picture's: a faint card creeping a few pixels a frame in a dark picture stays under the picture's threshold
        # (tuning seed 1875: a card settled by a whole look crept on unseen, its lines sliding out from under their
        # masks), and so does a card that has not been seen yet, light paper coming in over light ground in a picture
        # whose dark monitor sets a high threshold (tuning 41003: a whole 1080p card unmasked on four frames while it
        # slid in; judged so only around text found before, 18 of tuning 41000-41031 passed, 19 this way, PHI
        # 99.55 -> 99.99 %; 29 and 28 of 40000-40039, a card's trail over one infant for two frames longer; 3 % more
        # looks). Not inside a monitor's screen, which is masked whole: its trace would count as moving every frame.
        sensitive = np.ones(grid.shape, bool)
        if self._monitors:
            sensitive &= ~cv2.erode(grid.cells_of(self._monitors).astype(np.uint8), _NEAR_TEXT).astype(bool)
        moved = grid.changed(thumb, sensitive=sensitive)
        # Text the grid saw no change around must still show where its look found it (ink.py: a card the grey of
        # its ground moves unseen by the grid); the cells of a line that does not are looked at again.
        slipped = self._slipped(image, grid, moved)
        if self._monitors:
            # A monitor's screen is masked whole on this frame, so a look at a cell wholly inside it could add nothing
            # to the mask, while its trace sweeping on changes such cells on every frame: they are not looked at for
            # that (on the pipeline bench's beds most crops were the trace's, 3 a second). They keep their looks,
            # and are looked at again once no monitor covers them and they differ from what those looks saw.
            moved &= ~grid.cells_inside(self._monitors)
            slipped &= ~grid.cells_inside(self._monitors)
        # Text that moves (a card slid along, lifted, blurred by the motion) may be missed by the look at this very
        # frame: where cells with text just found changed, they and the changed cells next to them are masked whole.
        # Only text that itself changed counts: an infant stirring beside a card that stays is not masked.
        # A card is rigid: when some of its text cells changed, all the text cells joined to them move too, with a
        # ring of cells around them, though a dim card sliding over ground of its own grey changes too few pixels of
        # some cells for the grid (measured on tuning scene 15: its lower lines went unmasked while it moved).
        moving = (moved & text).astype(np.uint8)
        self._moving_text = []
        self._trail = None
        whole = np.zeros(grid.shape, bool)
        if moving.any():
            _, labels = cv2.connectedComponents(text.astype(np.uint8), connectivity=8)
            carried = np.isin(labels, labels[moving.astype(bool)])
            whole = cv2.dilate(carried.astype(np.uint8), _NEAR_TEXT).astype(bool)
            whole |= moved & cv2.dilate(moving, _NEAR_TEXT).astype(bool)
            self._moving_text = grid.cell_boxes(whole)
        if moved.any():
            # A cell back to what its previous detection saw is vouched for by that one, if it still may.
            back = moved & ~grid.changed(thumb, 1, sensitive) & ~looks.unusable(frame.index, max_age, previous=True)
            # ... but not twice running: a cell's range reaches into its neighbours, which its two looks saw at other
            # moments, so a cell at rest can match its previous look and not its current one on every frame (a card
            # that crept and stopped, judged by the contrast around its text). It is looked at again instead.
            back &= ~self._flipped
            self._flipped = back
            if back.any():
                grid.swap(back)
                looks.swap(back)
                moved &= ~back
        else:
            self._flipped = np.zeros(grid.shape, bool)
        grid.remember(moved & ~self._episode)
        starts = not self._episode.any()
        self._episode |= moved
        # The moving text's cells and ring stay masked whole while anything is on the move, though on the next frames
        # the card may change its cells too little for the grid (tuning seed 1600: a faint card sliding on over the
        # infant, its lines' ends left the cells that still changed). They are not part of the episode: the look at
        # the group at rest is no larger for them (a larger look that misses a line unmasks it where it saw clear).
        self._carried |= whole
        # Slipped lines' cells are looked at again, but not as motion: the slip of a card's lines seen between its
        # looks while it is carried is the card's own motion, already masked by the rules for text on the move;
        # counted as motion, it kept the group's episode from ever coming to rest (tuning 40002: the infant under a
        # band of whole cells; 26 of tuning scenes 40000-40039 passed that way, 27 before, 29 with this).
        need = moved | slipped | looks.unusable(frame.index, max_age)
        if frame.index < self._retry_at:
            looks.current[need] = None
            return looks.vouched(frame.index, max_age)
        scheduled = frame.index - self._last_whole >= self.policy.detect_every
        if self.failing and self._refresh is None and not looks.running():
            # The newest look failed and none is running that could show the detector works again: the safety
            # schedule's look is asked for now, not at its time (the frames are screens until one succeeds).
            scheduled = True
        if scheduled and self._refresh is None and grid.area(need) <= WHOLE_FRAME_SHARE and not looks.blind():
            # The safety schedule's look runs in the background: the picture's cells keep the looks that vouch for
            # them (they may, for up to detect_every + hold_frames) and take the new one once it is back.
            detection = self._submit(frame, None, whole=True, side=self.policy.refresh_side)
            if detection is not None:
                detection.inherited = looks.still_valid(need)
                self._refresh, self._refresh_thumb = detection, thumb.copy()
                self._last_whole = frame.index - (self._phase if self._last_whole < 0 else 0)
            scheduled = False
        if scheduled or grid.area(need) > WHOLE_FRAME_SHARE:
            detection = self._submit(frame, None, whole=True)
            if detection is not None:
                detection.inherited = looks.still_valid(need)
                looks.take_all(detection)
                grid.settle(thumb)
                # The first whole-frame detection is shifted by the camera's phase in the schedule.
                self._last_whole = frame.index - (self._phase if self._last_whole < 0 else 0)
                need[:] = False
                self._episode[:] = False
            else:
                # The pool refused: what moved has no valid detection; try again on the next frame.
                looks.current[need] = None
                need[:] = False
        # Lines found earlier in cells that have not moved since stand: a crop cutting one of them is not looked at
        # again wider (the pool's `known`), only one cutting a line no standing look found (a card carried fast).
        known = (
            tuple(as_quad(r) for r in looks.still_valid(need | self._episode))
            if need.any() or self._episode.any()
            else ()
        )
        for box, cells in grid.regions(need) if need.any() else ():
            detection = self._submit(frame, box, whole=False, known=known)
            if detection is None:
                looks.current[cells] = None
                continue
            self.counts.motion_detections += 1
            looks.take(cells, detection)
            grid.settle(thumb, cells)
        self._look_at_rest(frame, grid, moved, known)
        if self._episode.any():
            # A group still on the move may carry text no look can read yet (cut by the frame's edge or a crop,
            # blurred by the motion): every cell it moved through is masked whole until it rests and is looked at,
            # except a cell that shows again just what it showed before anything moved there (a card has passed
            # on), unless text was found in or next to it. This fails closed at a price: an infant who stirs is
            # masked too, where she stirred, for as long as the stirring lasts.
            near = cv2.dilate(looks.found_text(grid, self.policy).astype(np.uint8), _NEAR_TEXT).astype(bool)
            self._episode &= ~(grid.returned(thumb) & ~moved & ~near)
            # A group coming in over the picture's edge may be a card cut by it (no look reads a cut card) that
            # changes few of the cells it covers: until text is read in it, its whole box and a ring of one cell are
            # masked (tuning seed 203: a faint card sliding in at night showed part of its text, in cells the grid
            # did not see change, on 3 frames).
            entering = grid.entering(self._episode, moved, near)
            # The rest is masked whole only until the frame's looks are back: where they show the group's text
            # followed (trail.py), the lines they found are masked instead. A group coming in over the edge is not
            # known as far as it goes.
            trail = (self._episode | self._carried | whole) & ~entering
            self._moving_text = grid.cell_boxes(entering)
            self._trail = Trail(trail, starts) if trail.any() else None
        else:
            self._carried[:] = False
        return looks.vouched(frame.index, max_age)

    def _slipped(self, image: np.ndarray, grid: MotionGrid, moved: np.ndarray) -> np.ndarray:
        """The cells of lines that slipped (ink.py): lines a finished current look found, in cells that look still
        answers for and the grid saw no change in, whose picture no longer shows where the look found it."""
        owners = self._looks.current
        out = np.zeros(grid.shape, bool)
        looks = [look for look in set(owners.flat) if look is not None and look.ok]
        if not looks:
            return out
        _, ident = owner_table(owners)
        # A line within the camera's shake of where it was is still under its mask: never further than its margin.
        shake = min(SHAKE_PX, self.policy.margin_px)
        for look in looks:
            own = (ident == id(look)) & ~moved
            if not own.any():
                continue
            for region in look.future.result():
                reach = self._reach(region, grid)
                if (reach & own).any() and self._ink.slipped(region, image, shake):
                    out |= reach
        return out

    def _reach(self, region: Region, grid: MotionGrid) -> np.ndarray:
        """The cells `region` itself touches, not grown (read-only; kept while the region object lives on in its look
        and the grid stays): asked for every line of every look on every frame."""
        kept = self._reach_cache.get(id(region))
        if kept is not None and kept[0] is region and kept[1] is grid:
            return kept[2]
        if len(self._reach_cache) > GROWN_KEPT:
            self._reach_cache.clear()
        reach = grid.cells_of([as_quad(region)])
        reach.flags.writeable = False
        self._reach_cache[id(region)] = (region, grid, reach)
        return reach

    def _look_at_rest(self, frame: Frame, grid: MotionGrid, moved: np.ndarray, known: tuple = ()) -> None:
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
            owners = set(self._looks.current[group].flat)
            if len(owners) == 1 and (only := next(iter(owners))) is not None and only.contains(box):
                continue
            cells = cells & self._looks.nothing_found(grid, self.policy)
            detection = self._submit(frame, box, whole=False, known=known)
            if detection is None:
                self._looks.current[cells] = None
                continue
            self.counts.motion_detections += 1
            self._looks.current[cells] = detection

    def _see_monitors(self, index: int, thumb: np.ndarray, width: int, height: int) -> None:
        if not self.policy.monitors:
            return
        found = find_monitors(thumb, width, height)
        if found:
            self._monitors, self._monitors_until = found, index + self.policy.detect_every
        elif index > self._monitors_until:
            self._monitors = []

    def _install_refresh(self, grid: MotionGrid) -> None:
        """A background look that is back vouches, from now on, for the cells whose own look is older than it."""
        refresh, thumb = self._refresh, self._refresh_thumb
        if refresh is None or thumb is None or not refresh.future.done():  # (the two are set together)
            return
        self._refresh = None
        self._note((refresh,))
        if refresh.future.exception() is not None:
            return  # the camera's frames are screened (`failing`) until a newer look succeeds
        self._looks.install(refresh, grid, thumb)

    def _submit(
        self, frame: Frame, region: Box | None, whole: bool, side: int | None = None, known: tuple = ()
    ) -> Look | None:
        """Send a detection to the pool; None when it was refused at once (closed or overloaded). `known`: lines
        found earlier that still stand (a crop that cuts one of them is not looked at again wider)."""
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
                known,
            )
        except Exception:  # a broken pool must screen frames, not crash the camera
            future = None
        if future is None or (future.done() and future.exception() is not None):
            self._retry_at = frame.index + RETRY_FRAMES
            if not self._blocking:
                self._rate_changed(self.rate.press(self._clock()))
            return None
        native = not (self.policy.detect_side if side is None else side)
        detection = Look(frame.index, future, whole, None if whole else region, native=native, image=frame.image)
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
