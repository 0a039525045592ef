"""The per-camera redaction stage: schedule detections, hold them across frames, and fail closed."""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from cradle.media.errors import DetectorFailed
from cradle.media.frames import Box, Frame, SafeFrame, screened
from cradle.media.redact import masks
from cradle.media.redact.motion import MotionDetector
from cradle.media.redact.policy import CameraPolicy
from cradle.media.redact.pool import DetectorPool


@dataclass(slots=True)
class _Detection:
    index: int
    future: Future


@dataclass(slots=True)
class RedactionCounts:
    """What happened to a camera's frames so far."""

    frames: int = 0
    screened: int = 0
    detections: int = 0
    motion_detections: int = 0
    failures: int = 0


class Redactor:
    """Turns a camera's raw frames into safe frames, in order, delayed by the hold window.

    Frame i is masked with the static zones plus the union of the nearest detections before and after it.
    If either detection is missing, further than `hold_frames` away, failed, or not ready by the deadline,
    frame i becomes the privacy screen. `deadline_s` is the watchdog budget per frame (for live cameras,
    the hold window in seconds).
    `blocking` waits for detections up to the deadline (files); otherwise the caller polls (live cameras).
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
        self._pending: deque[Frame] = deque()
        self._detections: list[_Detection] = []
        self._motion = MotionDetector(policy.motion_share)
        self._last_detected = -(10**9)
        self._last_seen: Frame | None = None
        self.counts = RedactionCounts()

    def push(self, frame: Frame) -> list[SafeFrame]:
        """Take one raw frame; give back the safe frames that are ready, oldest first."""
        if not frame.lost:
            self._maybe_detect(frame)
            self._last_seen = frame
        self._pending.append(frame)
        return self._release(final=False)

    def poll(self) -> list[SafeFrame]:
        """Safe frames that became ready, or overdue, since the last call."""
        return self._release(final=False)

    def flush(self) -> list[SafeFrame]:
        """End of stream: check the last frame too and give back everything still held."""
        last = self._last_seen
        if last is not None and (not self._detections or self._detections[-1].index < last.index):
            self._submit(last)
        # Nothing comes after the last frame, so waiting (up to the deadline) beats screening the tail.
        blocking, self._blocking = self._blocking, True
        try:
            return self._release(final=True)
        finally:
            self._blocking = blocking

    def _maybe_detect(self, frame: Frame) -> None:
        due = frame.index - self._last_detected >= self.policy.detect_every
        if due:
            self._submit(frame)
        elif self._idle() and self._motion.moved(frame.image):
            # Only when the detector has caught up: under load an extra check would make every frame late.
            self.counts.motion_detections += 1
            self._submit(frame)

    def _idle(self) -> bool:
        return not self._detections or self._detections[-1].future.done()

    def _submit(self, frame: Frame) -> None:
        try:
            future = self._pool.submit(frame.image, self.policy.faces, self.policy.detect_side)
        except Exception as exc:  # a broken pool must screen frames, not crash the camera
            future = Future()
            future.set_exception(DetectorFailed(str(exc)))
        self._detections.append(_Detection(frame.index, future))
        self._last_detected = frame.index
        self._motion.settle(frame.image)
        self.counts.detections += 1

    def _covering(self, index: int) -> tuple[_Detection | None, _Detection | None]:
        """The nearest detection strictly before frame `index`, and the first at or after it."""
        keys = [d.index for d in self._detections]
        at = bisect.bisect_left(keys, index)
        before = self._detections[at - 1] if at else None
        after = self._detections[at] if at < len(self._detections) else None
        return before, after

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
        hold = self.policy.hold_frames
        while self._pending:
            frame = self._pending[0]
            overdue = self._clock() - frame.arrived > self._deadline
            if frame.lost:
                out.append(self._screen(frame, failed=False))
                continue
            before, after = self._covering(frame.index)
            if after is None:
                if final or overdue:
                    out.append(self._screen(frame))
                    continue
                break
            if after.index - frame.index > hold:
                out.append(self._screen(frame))
                continue
            if before is None or frame.index - before.index > hold:
                if after.index != frame.index:  # nothing checked this frame's recent past
                    out.append(self._screen(frame))
                    continue
                before = after
            ready = self._wait(before, frame) and self._wait(after, frame)
            if not ready:
                if final or overdue or self._blocking:
                    out.append(self._screen(frame))
                    continue
                break
            boxes = self._boxes(before, after)
            if boxes is None:
                out.append(self._screen(frame))
                continue
            out.append(self._mask(frame, boxes))
        self._forget()
        return out

    def _boxes(self, before: _Detection, after: _Detection) -> list[Box] | None:
        boxes: list[Box] = []
        for detection in (before, after) if after is not before else (before,):
            if detection.future.exception() is not None:
                return None
            boxes += detection.future.result()
        return boxes

    def _mask(self, frame: Frame, boxes: list[Box]) -> SafeFrame:
        self._pending.popleft()
        self.counts.frames += 1
        height, width = frame.image.shape[:2]
        grown = [masks.grow(box, self.policy, width, height) for box in boxes]
        covered = masks.coverage((height, width), self.policy.zones, grown)
        image = masks.apply(frame.image, covered, self.policy)
        return SafeFrame(image, frame.index, frame.pts, frame.time_base, frame.arrived, False, covered)

    def _screen(self, frame: Frame, failed: bool = True) -> SafeFrame:
        self._pending.popleft()
        self.counts.frames += 1
        self.counts.screened += 1
        if failed:
            self.counts.failures += 1
        return screened(frame)

    def _forget(self) -> None:
        """Drop detections no pending or future frame can use."""
        oldest = self._pending[0].index if self._pending else (self._last_seen.index if self._last_seen else 0)
        keep_from = 0
        for i, detection in enumerate(self._detections):
            if detection.index < oldest:
                keep_from = i
        del self._detections[:keep_from]
