"""What one worker can redact in real time, measured on itself (CRADLE_WORKER_CAPACITY, when set, stands instead).

Every round the worker notes the CPU time its process has spent (the cameras, the detectors, decoding, encoding,
sealing: all of its threads but the embedded background queue's) and the camera-seconds its cameras redacted, in
camera units (`camera_cost`: a 640x480 15 fps camera is one). Their ratio over about the last WINDOW_S seconds is
what one camera unit costs here; the cores this worker may use (the machine's, shared by its camera processes) at
CPU_BUDGET, over that cost, is how many units it can hold.

Only frames that were redacted count as redacted seconds; repeated and screened ones do not, though their encodes
cost CPU. So a worker behind its cameras measures a higher cost, never a lower one: screens cost no looks, and
counting them would make an overloaded worker believe it had room; one that redacts nothing its cameras send can hold
one camera. Until its cameras have sent MEASURED_UNIT_SECONDS it counts PRIOR_COST a camera unit (a camera's first
look, at native resolution, is its dearest, and a few seconds of one camera are no measure). Frames a camera's source
lost (screens from the source) are neither sent nor redacted.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable

from cradle.media.live import live_settings

# Share of its cores a worker fills with cameras (the rest: bursts of motion, the web, the OS), as bench/pipeline.py
# projects.
CPU_BUDGET = 0.8
# CPU seconds one camera unit costs a second until it is measured: a little above what bench/pipeline.py measures for
# one camera that keeps up (0.24-0.29 on the 2-core machines it ran on), so a worker starts a little short of what it
# can hold, then takes more, rather than starting over.
PRIOR_COST = 0.3
# Camera-unit-seconds its cameras sent before the measured cost stands instead.
MEASURED_UNIT_SECONDS = 30.0
# A camera's first seconds are not measured: its first look, at native resolution and with every other camera
# starting beside it, and its frame rate settling after that (bench/pipeline.py's warm-up), would read as its cost.
SETTLE_S = 10.0
# Seconds over which the measurement is averaged (older seconds weigh less, by exp(-age / WINDOW_S)).
WINDOW_S = 60.0
# A worker keeps the cameras it runs until it can hold this much less than they cost (so a figure that wavers around
# a whole camera does not stop one, start it again and stop it).
KEEP_MARGIN = 1.15


# Threads of a worker process whose CPU is not the cameras': the embedded background queue (`cradle worker` without
# Redis runs leak traces and keepsakes in it), which would otherwise read as cameras dearer than they are.
ASIDE_THREADS = ("queue",)


def cameras_cpu() -> float:
    """This process's CPU time, less that of its threads that do other work than the cameras (ASIDE_THREADS)."""
    total = time.process_time()
    for thread in threading.enumerate():
        if thread.name in ASIDE_THREADS and thread.ident is not None:
            with contextlib.suppress(AttributeError, OSError):  # not on Linux, or the thread has just ended
                total -= time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


def camera_units(width: int, height: int, fps: float) -> float:
    """What a camera delivering width x height at `fps` costs to redact, in 640x480 15 fps cameras (pixels a second,
    scaled)."""
    return max(0.25, width * height * fps / (640 * 480 * 15.0))


def camera_cost(url: str) -> float:
    """`camera_units` of a camera by its address (a simulated camera says its size and rate)."""
    s = live_settings(url)
    return camera_units(s.width, s.height, s.fps)


def worker_cores(processes: int) -> float:
    """The cores one worker process may use: the machine's (those this process may run on), shared by `processes`
    camera processes (0: one per core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores / (processes or cores)


class Capacity:
    """A worker's own measure of what it can redact: `units()` camera units, and `cost` CPU-s per unit-second."""

    def __init__(
        self,
        cores: float,
        *,
        cpu: Callable[[], float] = cameras_cpu,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cores = cores
        self._cpu, self._clock = cpu, clock
        self._at: tuple[float, float] | None = None  # (wall clock, process CPU) of the last note
        self._spent = 0.0  # CPU seconds, weighted by age
        self._sent = 0.0  # camera-unit-seconds the cameras sent (to be redacted), weighted alike
        self._done = 0.0  # camera-unit-seconds redacted, weighted alike
        self.measured = 0.0  # camera-unit-seconds sent in all

    def note(self, sent: float, redacted: float, settling: bool = False) -> None:
        """Take note of the camera-unit-seconds the cameras sent and of those redacted since the last note, and of the
        CPU spent meanwhile; nothing of it while a camera is `settling` (SETTLE_S)."""
        now, cpu = self._clock(), self._cpu()
        if self._at is not None and not settling:
            kept = math.exp(-max(0.0, now - self._at[0]) / WINDOW_S)
            self._spent = self._spent * kept + max(0.0, cpu - self._at[1])
            self._sent = self._sent * kept + max(0.0, sent)
            self._done = self._done * kept + max(0.0, redacted)
            self.measured += max(0.0, sent)
        self._at = (now, cpu)

    @property
    def cost(self) -> float:
        """CPU seconds one camera unit costs a second of its video redacted here: PRIOR_COST until measured (or with
        no camera lately), without limit when nothing the cameras sent could be redacted."""
        if self.measured < MEASURED_UNIT_SECONDS or self._sent < 1.0:
            return PRIOR_COST
        return self._spent / self._done if self._done > 0 else math.inf

    def units(self) -> float:
        """Camera units this worker can redact in real time."""
        return self.cores * CPU_BUDGET / max(self.cost, 1e-3)


def cameras_held(capacity: float, unit_cost: float, running: int) -> tuple[int, int]:
    """How many cameras of `unit_cost` units each a worker that can hold `capacity` units takes, and how many of the
    `running` ones it keeps (KEEP_MARGIN). At least one: a worker that takes none measures nothing."""
    take = max(1, int(capacity / unit_cost + 1e-9))
    keep = max(take, min(running, int(capacity * KEEP_MARGIN / unit_cost + 1e-9)))
    return take, keep
