"""The pipeline worker: runs a live pipeline for every camera whose bed has a baby admitted.

Segments are sealed under the admission's key and kept for the live buffer's length; nothing older is kept. A camera
without an admitted baby is not run at all: with nobody to watch, nothing is recorded.

Several workers share the cameras through leases (cradle.viewing.leases): each runs the cameras it holds, takes over
those of a worker that stopped renewing, and writes every segment fenced by its lease. The housekeeping (expiring the
live buffer, daily clips, queued background work) runs in whichever worker holds the housekeeping lease.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections
from django.db.models import Max
from django.utils import timezone

from cradle import metrics, tasks
from cradle.media.fingerprint import fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import Segment, decode
from cradle.media.live import CameraPipeline, live_settings
from cradle.media.redact import DetectorPool
from cradle.outage import StateLog
from cradle.unit.models import Admission, Camera
from cradle.viewing import fastpath, keepsake
from cradle.viewing.camera_config import camera_policy, delivery, policy_stamp, run_config
from cradle.viewing.leases import HOUSEKEEPING, Leaseholder, LeaseLost, camera_lease, camera_of, fair_share
from cradle.viewing.models import Lease, LiveSegment
from cradle.viewing.storage import mark_key, segment_store
from cradle.viewing.variants import SEGMENT_OBJECTS

log = logging.getLogger(__name__)

VARIANT_OBJECTS = SEGMENT_OBJECTS  # every object a segment may have, whatever its mark units


# How often a running camera looks at its settings file for a new shown area or zones (a stat call).
ZONES_CHECK_S = 0.2

# A camera's privacy-screen share is averaged over about this many segments (a minute).
SHARE_WINDOW = 60


def camera_cost(url: str) -> float:
    """What a camera costs to redact, in 640x480 15 fps cameras (pixels a second, scaled)."""
    s = live_settings(url)
    return max(0.25, s.width * s.height * s.fps / (640 * 480 * 15.0))


class CameraRun:
    """One camera's pipeline thread, bound to the admission it records for."""

    def __init__(self, worker: Worker, camera: Camera, admission: Admission, lease: Lease) -> None:
        self.camera_id, self.admission_id, self.media_id = camera.pk, admission.pk, admission.media_id
        self.lease, self.epoch = lease.name, lease.epoch
        self.stop = threading.Event()
        self._paused_until = camera.paused_until
        self._worker = worker
        self.config = run_config(camera)
        self._policy_stamp = policy_stamp(camera.pk)
        self._zones_checked = time.monotonic()
        store = segment_store()
        store.admit(admission.media_id)
        # The lease remembers the next index even when the live buffer has expired every segment, so that no index
        # is ever produced twice; the newest row covers a lease written before it knew.
        last = LiveSegment.objects.filter(camera=camera).aggregate(last=Max("index"))["last"]
        next_index = max(Lease.objects.get(name=lease.name).next_index, 0 if last is None else last + 1)
        self._label = str(camera.pk)
        # The state last written, so that only a change is written.
        self._state_seen, self._error_seen = "", ""
        self._share = camera.screened_share
        self.pipeline = CameraPipeline(
            camera.connect_url,
            str(camera.pk),
            mark_key(),
            worker.pool,
            self._store,
            paused=self.is_paused,
            policy=camera_policy(camera.pk),
            settings=delivery(camera),
            first_index=next_index,
            observe=self._observe,
            tick=self._look_for_zones,
            on_rate=lambda fps: metrics.REDACTED_FPS.labels(self._label).set(fps),
        )
        metrics.REDACTED_FPS.labels(self._label).set(self.pipeline.settings.fps)
        self._last_segment_at: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"camera {camera.pk}", daemon=True)

    def is_paused(self) -> bool:
        until = self._paused_until
        return until is not None and until > timezone.now()

    def refresh(self, camera: Camera) -> None:
        self._paused_until = camera.paused_until

    def _look_for_zones(self) -> None:
        """Applies a changed settings file (the zone editor's shown area and zones) to the running stream, looked at
        every ZONES_CHECK_S from the pipeline's own thread: no restart, and families see it within about a second."""
        now = time.monotonic()
        if now - self._zones_checked < ZONES_CHECK_S:
            return
        self._zones_checked = now
        stamp = policy_stamp(self.camera_id)
        if stamp != self._policy_stamp:
            self._policy_stamp = stamp
            self.pipeline.set_policy(camera_policy(self.camera_id))
            log.info("camera %s: new redaction settings applied", self.camera_id)

    def _observe(self, frame: SafeFrame) -> None:
        metrics.REDACTION_LATENCY.observe(max(0.0, time.monotonic() - frame.arrived))
        if frame.screened:
            metrics.PRIVACY_SCREEN.labels(self._label).inc(1 / self.pipeline.settings.fps)

    def _run(self) -> None:
        try:
            self.pipeline.run(self.stop)
        except (LeaseLost, IntegrityError) as e:
            # Another worker has the camera now (or has written this index): stop before writing anything more.
            if not self.stop.is_set():  # not when this worker stopped it itself
                log.warning("camera %s stopped: its lease is no longer ours (%s)", self.camera_id, type(e).__name__)
        except Exception:
            log.exception("camera %s stopped with an error", self.camera_id)
        finally:
            self.stop.set()
            metrics.CAMERA_FPS.labels(self._label).set(0)
            connections.close_all()  # this thread's own connections

    def _store(self, segment: Segment) -> None:
        store = segment_store()
        objects = segment.objects()
        fingerprint = fingerprint_segment(decode(segment.reference)).tobytes()
        at = time.monotonic()
        fps = 0.0
        if self._last_segment_at is not None:
            frames = round(segment.duration * self.pipeline.settings.fps)
            fps = frames / max(at - self._last_segment_at, 1e-3)
        with self._worker.leases.fenced(self.lease, self.epoch) as lease:
            if self.stop.is_set():  # stopped by this worker while the segment was being made
                raise LeaseLost(self.lease)
            now = timezone.now()
            # Right after the stop check and in its transaction, so a worker that stops the camera and marks it
            # offline is not overtaken by a segment that was still being stored.
            self._report(segment, now, fps)
            # The row first: its unique index refuses a segment index already written before any object is
            # replaced; viewers see neither until the transaction commits.
            LiveSegment.objects.create(
                fingerprint=fingerprint,
                camera_id=self.camera_id,
                admission_id=self.admission_id,
                index=segment.index,
                started_at=now - timedelta(seconds=segment.duration),
                duration=segment.duration,
                frames=segment.frames,
                screened=segment.screened,
                screen=segment.screen,
                units=len(segment.units),
            )
            for variant, data in objects.items():
                store.put(self.media_id, str(self.camera_id), segment.index, variant, data)
            lease.next_index = segment.index + 1
            lease.save(update_fields=["next_index"])
        metrics.SEGMENTS_WRITTEN.labels(self._label).inc()
        if fps:
            metrics.CAMERA_FPS.labels(self._label).set(fps)
        self._last_segment_at = at
        close_old_connections()

    def _report(self, segment: Segment, now: datetime, fps: float) -> None:
        """The camera's heartbeat and state from the segment just stored: live only when it is the picture, never
        over a privacy screen; one log line when the state changes."""
        screened = segment.screened >= 0.5 * max(1, segment.frames)
        if not screened:
            state = Camera.State.LIVE
        elif segment.screen == "no_picture":
            state = Camera.State.NO_PICTURE
        elif segment.screen == "paused":
            state = Camera.State.LIVE  # the camera works; the nurse's pause is told from the pause itself
        else:
            state = Camera.State.CHECKING
        # While the picture is missing the reason stays told, even once the source has a frame again (the segment
        # was mostly screen) or between two tries.
        error = (self.pipeline.failure or self._error_seen) if state == Camera.State.NO_PICTURE else ""
        self._share += (segment.screened / max(1, segment.frames) - self._share) / SHARE_WINDOW
        fields = {
            "seen_at": now,
            "last_error": error[:200],
            "measured_fps": round(fps, 2),
            "screened_share": round(self._share, 4),
        }
        self._error_seen = error
        if state != self._state_seen:
            fields |= {"state": state, "state_changed_at": now}
            self._state_seen = state
        # One log line per change, kept by the worker: a run of the same camera started again (a lease renewed late,
        # a thread restarted) does not announce the state once more.
        if self._worker.logged_states.get(self.camera_id) != state:
            if state == Camera.State.NO_PICTURE:
                log.warning("camera %s: no picture (%s)", self.camera_id, error or "the camera sends nothing")
            elif state == Camera.State.CHECKING:
                log.warning("camera %s: the picture could not be checked in time; privacy screen", self.camera_id)
            else:
                log.info("camera %s: live", self.camera_id)
            self._worker.logged_states[self.camera_id] = state
        Camera.objects.filter(pk=self.camera_id).update(**fields)


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

    def reconcile(self) -> None:
        """Claims and renews leases, then starts and stops pipelines to match what this worker holds."""
        wanted = {
            a.bed.camera.pk: (a.bed.camera, a)
            for a in Admission.objects.filmed().select_related("bed__camera")
            if hasattr(a.bed, "camera")
        }
        workers = self.leases.announce()
        share = fair_share(len(wanted), workers, settings.CRADLE["WORKER_CAMERAS"])
        share = self._within_capacity(share, [camera.source_url for camera, _ in wanted.values()])
        names = [camera_lease(camera_id) for camera_id in wanted]
        held = self.leases.claim([*names, HOUSEKEEPING], limit=share)
        self.leases.release([name for name in self.held if name not in held])
        self.held = held
        self._shed(share, workers)
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

    def _within_capacity(self, share: int, urls: list[str]) -> int:
        """`share` cut down to the cameras this worker can redact in real time (WORKER_CAPACITY), with a log line
        when that leaves cameras to other workers."""
        capacity = settings.CRADLE["WORKER_CAPACITY"]
        if not capacity or not urls:
            return share
        cost = sum(camera_cost(url) for url in urls) / len(urls)
        fits = max(1, int(capacity / cost + 1e-9))
        if fits < share:
            if self._capacity_logged != (fits, share):
                log.warning(
                    "worker at capacity: takes %d of the %d cameras it would share (%.1f camera units of %.1f); "
                    "the rest wait for another worker",
                    fits,
                    share,
                    fits * cost,
                    capacity,
                )
            self._capacity_logged = (fits, share)
            metrics.WORKER_CAPACITY_LEFT.set(share - fits)
            return fits
        self._capacity_logged = None
        metrics.WORKER_CAPACITY_LEFT.set(0)
        return share

    def _shed(self, share: int, workers: int) -> None:
        """Hands one camera back when this worker holds more than its share, so that a worker that has just started
        gets some; one at a time, a lease's length apart, so that the cameras do not all move at once."""
        cameras = sorted(name for name in self.held if name.startswith("camera/"))
        now = time.monotonic()
        if workers < 2 or len(cameras) <= share or now - self._shed_at < self.leases.seconds:
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
        cutoff = timezone.now() - timedelta(seconds=settings.CRADLE["LIVE_BUFFER_SECONDS"])
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
        fastpath.prune()
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
        mine = set(self.runs) | {camera_of(name) for name in self.held} - {None}
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
