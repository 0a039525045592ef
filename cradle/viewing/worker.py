"""The pipeline worker: runs a live pipeline for every camera whose bed has a baby admitted.

Segments are sealed under the admission's key and kept for the live buffer's length; nothing older is kept. A camera
without an admitted baby is not run at all: with nobody to watch, nothing is recorded.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Max
from django.utils import timezone

from cradle.media.fingerprint import fingerprint_segment
from cradle.media.hls import Segment, decode
from cradle.media.live import CameraPipeline
from cradle.media.redact import DetectorPool
from cradle.retention import service as retention
from cradle.unit.models import Admission, Camera
from cradle.viewing import clips
from cradle.viewing.models import LiveSegment
from cradle.viewing.storage import mark_key, segment_store

log = logging.getLogger(__name__)

VARIANT_OBJECTS = ("A", "B", "ref")


class CameraRun:
    """One camera's pipeline thread, bound to the admission it records for."""

    def __init__(self, worker: Worker, camera: Camera, admission: Admission) -> None:
        self.camera_id, self.admission_id, self.media_id = camera.pk, admission.pk, admission.media_id
        self.stop = threading.Event()
        self._paused_until = camera.paused_until
        self._worker = worker
        store = segment_store()
        store.admit(admission.media_id)
        last = LiveSegment.objects.filter(camera=camera).aggregate(last=Max("index"))["last"]
        self.pipeline = CameraPipeline(
            camera.source_url,
            str(camera.pk),
            mark_key(),
            worker.pool,
            self._store,
            paused=self.is_paused,
            first_index=0 if last is None else last + 1,
        )
        self.thread = threading.Thread(target=self._run, name=f"camera {camera.pk}", daemon=True)

    def is_paused(self) -> bool:
        until = self._paused_until
        return until is not None and until > timezone.now()

    def refresh(self, camera: Camera) -> None:
        self._paused_until = camera.paused_until

    def _run(self) -> None:
        try:
            self.pipeline.run(self.stop)
        except Exception:
            log.exception("camera %s stopped with an error", self.camera_id)
        finally:
            connections.close_all()  # this thread's own connections

    def _store(self, segment: Segment) -> None:
        store = segment_store()
        objects = {"A": segment.a, "B": segment.b, "ref": segment.reference}
        for variant in VARIANT_OBJECTS:
            store.put(self.media_id, str(self.camera_id), segment.index, variant, objects[variant])
        now = timezone.now()
        fingerprint = fingerprint_segment(decode(segment.reference)).tobytes()
        LiveSegment.objects.create(
            fingerprint=fingerprint,
            camera_id=self.camera_id,
            admission_id=self.admission_id,
            index=segment.index,
            started_at=now - timedelta(seconds=segment.duration),
            duration=segment.duration,
        )
        Camera.objects.filter(pk=self.camera_id).exclude(state=Camera.State.LIVE).update(
            state=Camera.State.LIVE, state_changed_at=now
        )
        close_old_connections()


class Worker:
    """Keeps one pipeline running per camera with an admitted baby; stops it at discharge."""

    def __init__(self, pool: DetectorPool | None = None) -> None:
        self.pool = pool or DetectorPool(workers=2)
        self.runs: dict[int, CameraRun] = {}
        self._traces: threading.Thread | None = None

    def reconcile(self) -> None:
        wanted = {
            a.bed.camera.pk: (a.bed.camera, a)
            for a in Admission.objects.filmed().select_related("bed__camera")
            if hasattr(a.bed, "camera")
        }
        for camera_id, run in list(self.runs.items()):
            target = wanted.get(camera_id)
            if target is None or target[1].pk != run.admission_id or not run.thread.is_alive():
                run.stop.set()
                del self.runs[camera_id]
                if target is None:
                    Camera.objects.filter(pk=camera_id).update(
                        state=Camera.State.OFFLINE, state_changed_at=timezone.now()
                    )
        for camera_id, (camera, admission) in wanted.items():
            if camera_id in self.runs:
                self.runs[camera_id].refresh(camera)
                continue
            run = CameraRun(self, camera, admission)
            self.runs[camera_id] = run
            run.thread.start()

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

    def start_traces(self) -> None:
        """Leak traces a privacy officer queued run here too, beside the cameras, one job at a time."""
        from cradle.forensics import jobs
        from cradle.forensics.models import TraceJob

        if (self._traces is None or not self._traces.is_alive()) and TraceJob.objects.filter(
            status=TraceJob.Status.QUEUED
        ).exists():

            def run() -> None:
                try:
                    jobs.run_pending()
                finally:
                    connections.close_all()

            self._traces = threading.Thread(target=run, name="traces", daemon=True)
            self._traces.start()

    def run_forever(self, stop: threading.Event, every_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.reconcile()
                self.expire()
                clips.record_daily()
                self.start_traces()
                retention.run_if_due()
            except Exception:
                log.exception("could not reconcile cameras")
            close_old_connections()
            stop.wait(every_s)
        for run in self.runs.values():
            run.stop.set()
        for run in self.runs.values():
            run.thread.join(timeout=5)
        Camera.objects.filter(pk__in=list(self.runs)).update(
            state=Camera.State.OFFLINE, state_changed_at=timezone.now()
        )
        connections.close_all()  # this thread's own connections
