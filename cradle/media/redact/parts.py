"""A look at native resolution cut into the tiles it runs the detector on, each a job of the pool of its own.

A whole look at a 1280x720 frame is six tiles of the detector (0.75 s of CPU on a 2-core Xeon, more than the 533 ms
hold window), run one after the other on one worker while the others wait or run other cameras' looks. Cut into
its tiles, the look runs on every worker of the pool at once: its first tile is queued as the look would be, and once
it has begun the others go ahead of the crops asked for after that, so the look is done in about half the time on two
workers and no stream of crops holds it back. The tiles and everything after them (the lines' widening, the
text-likeness check, faces) are the same as in one piece (WardDetectors.detect with `lines`): the look finds the same
lines.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError

import numpy as np

from cradle.media.frames import Box


class TiledLook:
    """One look cut into `tiles` (boxes in its crop): the lines found in each, and the look's one future."""

    def __init__(self, job: tuple, tiles: Sequence[Box]) -> None:
        # (image, faces, side, region, likeness, known, future), as the pool queues a look made in one piece.
        self.job = job
        self.future: Future = job[-1]
        self.tiles = list(tiles)
        self._lines: list[list[np.ndarray] | None] = [None] * len(self.tiles)
        self._left = len(self.tiles)
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> tuple[bool, bool]:
        """Called by each worker before its part: whether the look is to go on (the first part sets it running; not
        once it was cancelled or has failed), and whether this is its first part (the pool counts the look as
        waiting until then)."""
        with self._lock:
            if not self._started:
                self._started = True
                return self.future.set_running_or_notify_cancel(), True
            return not self.future.done(), False

    def found(self, part: int, lines: list[np.ndarray]) -> list[np.ndarray] | None:
        """Keeps the lines of tile `part`; gives every tile's lines, in the tiles' order, to the last part done."""
        with self._lock:
            self._lines[part] = lines
            self._left -= 1
            if self._left:
                return None
        return [line for lines in self._lines for line in lines or ()]

    def finish(self, result: list | None = None, error: BaseException | None = None) -> None:
        """The look's answer (or its failure, which stands whichever part failed first)."""
        with self._lock:
            try:
                if error is not None:
                    self.future.set_exception(error)
                else:
                    self.future.set_result(result)
            except InvalidStateError:  # another part failed first
                pass
