"""The pipeline worker: runs a live pipeline for every camera whose bed has a baby admitted.

Segments are sealed under the admission's key and kept for the live buffer's length; nothing older is kept. A camera
without an admitted baby is not run at all: with nobody to watch, nothing is recorded.

Several workers share the cameras through leases (cradle.worker.leases): each runs the cameras it holds, takes over
those of a worker that stopped renewing, and writes every segment fenced by its lease. The housekeeping (expiring the
live buffer, daily clips, queued background work) runs in whichever worker holds the housekeeping lease.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from cradle import metrics, tasks
from cradle.media.redact import DetectorPool
from cradle.outage import StateLog
from cradle.unit.models import Admission, Camera
from cradle.viewing import grants, keepsake
from cradle.viewing.camera_config import run_config
from cradle.viewing.models import Lease, LiveSegment
from cradle.viewing.storage import segment_store
from cradle.worker.camera_run import VARIANT_OBJECTS, CameraRun
from cradle.worker.capacity import SETTLE_S, Capacity, camera_cost, cameras_held, worker_cores
from cradle.worker.leases import HOUSEKEEPING, Leaseholder, camera_lease, camera_of, fair_share

log = logging.getLogger(__name__)


class Worker:
    """Keeps one pipeline running per camera it holds the lease of; stops it at discharge or when the lease is gone."""

    def __init__(self, pool: DetectorPool | None = None, leases: Leaseholder | None = None) -> None:
        self.pool = pool or DetectorPool(workers=2)
        self.leases = leases or Leaseholder()
        self.runs: dict[int, CameraRun] = {}
        self.logged_states: dict[int, str] = {}  # each camera's state as last logged
        self.held: dict[str, Lease] = {}
        self.schedule = tasks.Schedule()
        self._traces_due = 0.0
        self._keepsakes_due = 0.0
        self._housekeeping: threading.Thread | None = None
        self._shed_at = 0.0
        # Through an outage the loop retries every second: one log line when it starts, one when it ends.
        self._database_state = StateLog(log, "the database (camera leases)")
        self._housekeeping_state = StateLog(log, "housekeeping")
        self._capacity_logged: tuple[int, int] | None = None
        # What this worker can redact, measured on itself, and each run's redacted seconds as last noted.
        self.capacity = Capacity(worker_cores(settings.CRADLE.worker_processes))
        self._redacted_seen: dict[CameraRun, tuple[float, float]] = {}
        # Cameras no worker runs while this one is at capacity (told on the nurse's board).
        self.unserved: set[int] = set()
        self._free_before: set[int | None] = set()

    def reconcile(self) -> None:
        """Claims and renews leases, then starts and stops pipelines to match what this worker holds."""
        wanted = {
            a.bed.camera.pk: (a.bed.camera, a)
            for a in Admission.objects.filmed().select_related("bed__camera")
            if hasattr(a.bed, "camera")
        }
        workers = self.leases.announce()
        self._measure()
        share = fair_share(len(wanted), workers, settings.CRADLE.worker_cameras)
        take, keep = self._within_capacity(share, [camera.source_url for camera, _ in wanted.values()])
        names = [camera_lease(camera_id) for camera_id in wanted]
        held = self.leases.claim([*names, HOUSEKEEPING], limit=take)
        self.leases.release([name for name in self.held if name not in held])
        self.held = held
        self._shed(keep, workers, capacity=keep < share)
        self._tell_unserved(names, take < len(wanted) and self._cameras_held() >= take)
        for camera_id, run in list(self.runs.items()):
            target = wanted.get(camera_id)
            lease = self.held.get(run.lease)
            if (
                target is None
                or target[1].pk != run.admission_id
                or not run.thread.is_alive()
                or lease is None
                or lease.epoch != run.epoch
                or run.config != run_config(target[0])
            ):
                run.stop.set()
                del self.runs[camera_id]
                if target is None:
                    Camera.objects.filter(pk=camera_id).update(
                        state=Camera.State.OFFLINE, state_changed_at=timezone.now()
                    )
                    self.logged_states.pop(camera_id, None)
                # The next round starts it again if it is still ours, once its thread has finished its segment.
                continue
        for camera_id, (camera, admission) in wanted.items():
            lease = self.held.get(camera_lease(camera_id))
            if camera_id in self.runs:
                self.runs[camera_id].refresh(camera)
                continue
            if lease is None or any(t.name == f"camera {camera_id}" for t in threading.enumerate()):
                continue
            run = CameraRun(self, camera, admission, lease)
            self.runs[camera_id] = run
            run.thread.start()
        metrics.CAMERAS_RUN.set(len(self.runs))

    def _measure(self) -> None:
        """Notes the camera-unit-seconds this worker's cameras sent and redacted since the last round (capacity.py)."""
        sent = done = 0.0
        seen: dict[CameraRun, tuple[float, float]] = {}
        settling = any(time.monotonic() - run.started < SETTLE_S for run in self.runs.values())
        for run in self.runs.values():
            now = seen[run] = (run.pipeline.sent_seconds, run.pipeline.redacted_seconds)
            before = self._redacted_seen.get(run, (0.0, 0.0))
            sent += max(0.0, now[0] - before[0]) * run.cost
            done += max(0.0, now[1] - before[1]) * run.cost
        self._redacted_seen = seen
        self.capacity.note(sent, done, settling)

    def _cameras_held(self) -> int:
        return sum(1 for name in self.held if camera_of(name) is not None)

    def _within_capacity(self, share: int, urls: list[str]) -> tuple[int, int]:
        """How many of its `share` cameras this worker takes, and how many of those it runs it keeps, within what it
        can redact in real time: CRADLE_WORKER_CAPACITY when set, else what it measured on itself (capacity.py).
        A log line and `cradle_worker_cameras_over_capacity` say when that leaves cameras to other workers."""
        if not urls:
            return share, share
        capacity = settings.CRADLE.worker_capacity or self.capacity.units()
        cost = sum(camera_cost(url) for url in urls) / len(urls)
        take, keep = cameras_held(capacity, cost, self._cameras_held())
        take, keep = min(share, take), min(share, keep)
        if take < share:
            if self._capacity_logged != (take, share):
                log.warning(
                    "worker at capacity: takes %d of the %d cameras it would share (%.1f camera units of %.1f; "
                    "one costs %.2f CPU-s a second here); the rest wait for another worker",
                    take,
                    share,
                    take * cost,
                    capacity,
                    self.capacity.cost,
                )
            self._capacity_logged = (take, share)
            metrics.WORKER_CAPACITY_LEFT.set(share - take)
            return take, keep
        self._capacity_logged = None
        metrics.WORKER_CAPACITY_LEFT.set(0)
        return take, keep

    def _tell_unserved(self, names: list[str], at_capacity: bool) -> None:
        """Cameras that no worker runs while this one is at capacity show as unavailable on the nurse's board, for
        want of redaction capacity (Camera.NO_CAPACITY), with a log line and `cradle_cameras_without_capacity`; the
        first segment a worker stores for one says otherwise. A camera counts once it was free on two rounds in a row:
        a worker with room takes a free camera on its next round (one handed back a moment ago, say)."""
        free = {camera_of(name) for name in self.leases.unheld(names)} if at_capacity else set()
        unserved = {camera for camera in free & self._free_before if camera is not None}
        self._free_before = free
        for camera_id in sorted(unserved - self.unserved):
            log.warning("camera %s: no worker has the redaction capacity to run it; shown as unavailable", camera_id)
        if unserved:
            Camera.objects.filter(pk__in=unserved).exclude(last_error=Camera.NO_CAPACITY).update(
                last_error=Camera.NO_CAPACITY
            )
        # A camera no longer wanted (its baby discharged) keeps no reason to be run.
        wanted = {camera_of(name) for name in names}
        if gone := {camera for camera in self.unserved - unserved if camera not in wanted}:
            Camera.objects.filter(pk__in=gone, last_error=Camera.NO_CAPACITY).update(last_error="")
        self.unserved = unserved
        metrics.CAMERAS_WITHOUT_CAPACITY.set(len(unserved))

    def _shed(self, share: int, workers: int, capacity: bool = False) -> None:
        """Hands one camera back when this worker holds more than its share, so that a worker that has just started
        gets some, or (`capacity`) more than it can redact, so that the others keep up; one at a time, a lease's
        length apart, so that the cameras do not all move at once."""
        cameras = sorted(name for name in self.held if name.startswith("camera/"))
        now = time.monotonic()
        if (workers < 2 and not capacity) or len(cameras) <= share or now - self._shed_at < self.leases.seconds:
            return
        self._shed_at = now
        name = cameras[-1]
        for run in self.runs.values():
            if run.lease == name:
                run.stop.set()
                run.thread.join(timeout=5)
        self.leases.release([name])
        del self.held[name]

    def expire(self) -> int:
        """Drops every segment older than the live buffer, in storage and in the index; gives how many."""
        cutoff = timezone.now() - timedelta(seconds=settings.CRADLE.live_buffer_seconds)
        old = list(
            LiveSegment.objects.filter(created_at__lt=cutoff, in_clip=False).values_list(
                "pk", "admission__media_id", "camera_id", "index"
            )[:2000]
        )
        store = segment_store()
        for pk, media_id, camera_id, index in old:
            for variant in VARIANT_OBJECTS:
                store.delete(media_id, str(camera_id), index, variant)
            LiveSegment.objects.filter(pk=pk).delete()
        return len(old)

    def housekeep(self) -> None:
        """The shared chores, done by one worker at a time: audit events left in the spool, the live buffer's end,
        keepsake files past their day, and queuing the periodic work (daily clips, retention, and traces or keepsakes
        left waiting when the queue could not be reached or their maker died)."""
        from cradle.audit import spool
        from cradle.forensics.jobs import recover_stalled
        from cradle.forensics.models import TraceJob

        spool.merge()  # audit events left in this machine's spool by a web process that stopped
        self.expire()
        recover_stalled()
        grants.prune()
        keepsake.forget_expired()
        self.schedule.tick()
        if TraceJob.objects.filter(status=TraceJob.Status.QUEUED).exists() and time.monotonic() >= self._traces_due:
            self._traces_due = time.monotonic() + 60
            tasks.enqueue(tasks.run_traces)
        if keepsake.waiting() and time.monotonic() >= self._keepsakes_due:
            self._keepsakes_due = time.monotonic() + 60
            tasks.enqueue(tasks.make_keepsakes)

    def _start_housekeeping(self) -> None:
        # In a thread of its own, so that a long expiry never delays the renewal of the leases.
        if HOUSEKEEPING not in self.held or (self._housekeeping is not None and self._housekeeping.is_alive()):
            return

        def run() -> None:
            try:
                self.housekeep()
            except Exception as e:
                self._housekeeping_state.failed(e)
            else:
                self._housekeeping_state.ok()
            finally:
                connections.close_all()

        self._housekeeping = threading.Thread(target=run, name="housekeeping", daemon=True)
        self._housekeeping.start()

    def run_forever(self, stop: threading.Event, every_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.reconcile()
                self._start_housekeeping()
            except Exception as e:
                self._database_state.failed(e)
                self._stop_unsure()
            else:
                self._database_state.ok()
            close_old_connections()
            stop.wait(every_s)
        for run in self.runs.values():
            run.stop.set()
        for run in self.runs.values():
            run.thread.join(timeout=5)
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=10)
        # Every camera this worker still runs or holds the lease of (one whose run was just being restarted is in
        # the second set only), so none is left shown live with nobody behind it.
        mine = set(self.runs) | {camera for name in self.held if (camera := camera_of(name)) is not None}
        Camera.objects.filter(pk__in=mine).update(state=Camera.State.OFFLINE, state_changed_at=timezone.now())
        # Handing the leases back lets another worker take the cameras at once rather than after they expire.
        self.leases.release(list(self.held))
        self.leases.withdraw()
        connections.close_all()  # this thread's own connections

    def _stop_unsure(self) -> None:
        """Without the database this worker cannot know whether its leases still hold: the cameras it can no longer
        renew stop once the leases would have expired (their segments are refused from then on anyway)."""
        now = timezone.now()
        for camera_id, run in list(self.runs.items()):
            lease = self.held.get(run.lease)
            if lease is None or lease.expires_at <= now:
                run.stop.set()
                del self.runs[camera_id]
