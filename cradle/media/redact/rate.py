"""Graceful overload: a camera whose detections fall behind redacts fewer frames before it screens any.

When the detector pool refuses a camera's work, its frames leave redaction close to the hold window, or the camera
takes them from its queue half a hold window after capture, the camera redacts only every 2nd, then every 4th frame;
the frames in between repeat the last safe picture (never a raw one), so the family sees a lower frame rate instead of
the privacy screen. A frame already older than the hold window when taken costs no look: it repeats that picture too,
while it is recent (release.REPEAT_HOLDS), so the camera catches up with its queue. After a calm spell the rate goes
back up.
"""

from __future__ import annotations

MAX_STRIDE = 4
# Seconds without pressure before the rate goes back up one step, and the least time between two steps down.
CALM_S = 3.0
STEP_S = 0.5


class FrameRate:
    """Which frames a camera redacts: every `stride`-th one."""

    def __init__(self) -> None:
        self.stride = 1
        self._pressed_at = -1e9
        self._changed_at = -1e9

    def skip(self, index: int) -> bool:
        """True for a frame that is shown as a repeat of the last safe one instead of being redacted."""
        return self.stride > 1 and index % self.stride != 0

    def press(self, now: float) -> bool:
        """The camera fell behind; True when this lowered the rate."""
        self._pressed_at = now
        if self.stride >= MAX_STRIDE or now - self._changed_at < STEP_S:
            return False
        self.stride *= 2
        self._changed_at = now
        return True

    def relax(self, now: float) -> bool:
        """True when a calm spell raised the rate again."""
        if self.stride == 1 or now - self._pressed_at < CALM_S or now - self._changed_at < CALM_S:
            return False
        self.stride //= 2
        self._changed_at = now
        return True
