"""One camera's run in the pipeline worker: its pipeline thread, bound to the admission it records for.

Each segment is sealed under the admission's key and written fenced by the camera's lease (cradle.worker.leases), with
its index row first, so that a worker that has lost the camera can never overwrite another's segment. The run reports
the camera's heartbeat and state from each segment, and applies a changed settings file from the zone editor within
a second. The worker (cradle.worker.pipelines) decides which cameras run.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, close_old_connections, connections
from django.db.models import Max
from django.utils import timezone

from cradle import metrics
from cradle.media.fingerprint import fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import Segment, decode
from cradle.media.live import CameraPipeline
from cradle.unit.models import Admission, Camera
from cradle.viewing.camera_config import camera_policy, delivery, policy_stamp, run_config
from cradle.viewing.models import Lease, LiveSegment
from cradle.viewing.storage import mark_key, segment_store
from cradle.viewing.variants import SEGMENT_OBJECTS
from cradle.worker.capacity import camera_units
from cradle.worker.leases import LeaseLost

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cradle.worker.pipelines import Worker

VARIANT_OBJECTS = SEGMENT_OBJECTS  # every object a segment may have, whatever its mark units


# How often a running camera looks at its settings file for a new shown area or zones (a stat call).
ZONES_CHECK_S = 0.2

# A camera's privacy-screen share is averaged over about this many segments (a minute).
SHARE_WINDOW = 60


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
        s = self.pipeline.settings
        self.cost = camera_units(s.width, s.height, s.fps)  # what it costs to redact (cradle.worker.capacity)
        self._last_segment_at: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"camera {camera.pk}", daemon=True)
        self.started = time.monotonic()

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
        # A segment finished after this run was told to stop only beats the heart: the worker marks the camera
        # offline as it stops, and a slow last segment must not show it live again with nobody behind it.
        if self.stop.is_set():
            Camera.objects.filter(pk=self.camera_id).update(**fields)
            return
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
