"""`cradle worker` as several camera processes on one machine, kept running by the process that started them.

A camera's redaction bookkeeping, marks and segment writing are Python that holds the interpreter lock: one process
runs its cameras one at a time however many cores the machine has (measured on two cores: one process used 1.4-1.8 of
them and fell behind at four 640x480 cameras). Each camera process is a whole worker of its own (its own leases,
detectors and cameras; cradle.worker.pipelines), so the cameras spread over the processes exactly as they spread over
workers on several machines, and a camera process that dies has its cameras taken over as any dead worker's are.

The starting process runs no camera. It restarts a camera process that ended without being asked to (one log line,
waiting longer after each quick failure), and on SIGTERM or Ctrl+C tells every camera process to stop and waits for
them to hand their leases back.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from cradle import metrics

log = logging.getLogger(__name__)

# A camera process that ends is started again after this long, doubled after every failure within a minute of its
# start, up to the longest wait.
FIRST_WAIT_S, LONGEST_WAIT_S = 1.0, 60.0
# A run this long counts as healthy: the next failure waits FIRST_WAIT_S again.
HEALTHY_S = 60.0
# How long camera processes get to hand their leases back before they are killed.
STOP_WAIT_S = 30.0


def camera_process_command() -> list[str]:
    """The command of one camera process: this interpreter running `cradle worker` as a camera process only."""
    return [
        sys.executable,
        "-c",
        "import sys; from cradle.cli import main; sys.exit(main())",
        "worker",
        "--camera-process",
    ]


class CameraProcesses:
    """Keeps `count` camera processes running until `stop` is set."""

    def __init__(
        self,
        count: int,
        stop: threading.Event,
        command: Callable[[], list[str]] = camera_process_command,
        poll_s: float = 0.5,
    ) -> None:
        self.count = count
        self._stop = stop
        self._command = command
        self._poll_s = poll_s
        self.processes: list[subprocess.Popen | None] = [None] * count
        self._started = [0.0] * count
        self._wait = [FIRST_WAIT_S] * count
        self._due = [0.0] * count
        self.restarts = 0

    def _start(self, slot: int) -> None:
        self.processes[slot] = subprocess.Popen(self._command())  # noqa: S603 - our own command
        self._started[slot] = time.monotonic()

    def _ended(self, slot: int, code: int) -> None:
        ran = time.monotonic() - self._started[slot]
        self._wait[slot] = FIRST_WAIT_S if ran >= HEALTHY_S else min(LONGEST_WAIT_S, self._wait[slot] * 2)
        self._due[slot] = time.monotonic() + (0.0 if ran >= HEALTHY_S else self._wait[slot])
        process = self.processes[slot]
        if process is not None:
            metrics.process_ended(process.pid)  # its live gauges (cameras run) go with it
        log.warning(
            "camera process %d ended (exit %s) after %.0f s; starting it again in %.0f s",
            slot + 1,
            code,
            ran,
            max(0.0, self._due[slot] - time.monotonic()),
        )
        self.processes[slot] = None
        self.restarts += 1

    def run(self) -> None:
        try:
            for slot in range(self.count):
                self._start(slot)
            while not self._stop.wait(self._poll_s):
                for slot, process in enumerate(self.processes):
                    if process is not None and (code := process.poll()) is not None:
                        self._ended(slot, code)
                    if self.processes[slot] is None and time.monotonic() >= self._due[slot]:
                        self._start(slot)
        finally:
            self.close()

    def close(self) -> None:
        """Asks every camera process to stop (SIGTERM: each hands its leases back), then waits; kills what is left."""
        running = [p for p in self.processes if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("camera process %d did not stop in %.0f s; killed", process.pid, STOP_WAIT_S)
                process.kill()
                process.wait()


def watch_parent(stop: threading.Event, every_s: float = 1.0) -> threading.Thread:
    """In a camera process: sets `stop` when the process that started it is gone (killed without passing it on), so
    no camera process runs on with nobody to stop it."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(every_s):
            if os.getppid() != parent:
                log.warning("the worker that started this camera process is gone; stopping")
                stop.set()

    thread = threading.Thread(target=watch, name="parent watch", daemon=True)
    thread.start()
    return thread
