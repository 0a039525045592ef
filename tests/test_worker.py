"""The pipeline worker with a real simulated camera: sealed, marked segments appear, and a pause is in the picture."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from cradle.media.frames import Screen, privacy_screen
from cradle.media.hls import decode
from cradle.media.redact import DetectorPool
from cradle.media.redact.pool import WardDetectors
from cradle.unit.models import Camera
from cradle.viewing import storage
from cradle.viewing.models import LiveSegment
from cradle.worker.pipelines import Worker


class NoText:
    """A detector that finds nothing, instantly: this test is about the worker, not about redaction quality."""

    def detect(self, image):
        return []


def sample(name: str, labels: dict | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def run_worker(seconds: float, until=lambda: False) -> None:
    stop = threading.Event()
    worker = Worker(pool=DetectorPool(lambda: WardDetectors(NoText()), workers=1, backlog=64))
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2), daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        time.sleep(0.2)
    stop.set()
    # The worker's own shutdown (stopping pipelines, marking cameras offline) can take a while on a loaded machine.
    thread.join(timeout=60)
    assert not thread.is_alive(), "the worker did not stop"
    worker.pool.close()


@pytest.fixture
def small_camera(world):
    fam = world.families["a"]
    Camera.objects.filter(pk=fam.bed.camera.pk).update(source_url="sim://bed-a1?size=160x120&fps=10")
    return fam


@pytest.mark.django_db(transaction=True)
def test_the_worker_stores_marked_segments_of_an_admitted_bed(small_camera):
    fam = small_camera
    camera = {"camera": str(fam.bed.camera.pk)}
    written = sample("cradle_segments_written_total", camera)
    latencies = sample("cradle_redaction_latency_seconds_count")
    run_worker(20, until=lambda: LiveSegment.objects.filter(admission=fam.admission).count() >= 3)
    rows = list(LiveSegment.objects.filter(admission=fam.admission).order_by("index"))
    assert len(rows) >= 3
    assert [r.index for r in rows] == list(range(rows[0].index, rows[0].index + len(rows)))
    store = storage.segment_store()
    segment = rows[1]
    a = store.get(fam.admission.media_id, str(fam.bed.camera.pk), segment.index, "A" * segment.units)
    b = store.get(fam.admission.media_id, str(fam.bed.camera.pk), segment.index, "B" * segment.units)
    frames_a, frames_b = decode(a), decode(b)
    assert len(frames_a) == len(frames_b) == 10
    assert a != b and not np.array_equal(frames_a[5], frames_b[5])
    # Each segment carries the fingerprint that leak tracing searches by.
    assert len(bytes(segment.fingerprint)) == 648
    # Nothing of it is readable on disk.
    first = "A0" if segment.units > 1 else "A"  # a segment of mark units stores each unit's variants on their own
    raw = storage.settings.MEDIA_DIR / fam.admission.media_id / str(fam.bed.camera.pk) / f"{segment.index:012d}.{first}"
    assert raw.read_bytes()[:4] != a[:4]
    # When the worker stops, the camera is shown as offline rather than as live.
    assert Camera.objects.get(pk=fam.bed.camera.pk).state == Camera.State.OFFLINE
    # Its figures are in the metrics, under the camera's number (the fixture's first segment was not written here).
    new = len(rows) - 1
    assert sample("cradle_segments_written_total", camera) - written >= new
    assert sample("cradle_redaction_latency_seconds_count") - latencies >= 10 * new


@pytest.mark.django_db(transaction=True)
def test_a_segment_finished_after_the_stop_does_not_show_a_stopped_camera_live_again(small_camera):
    """On a loaded machine a camera's thread can outlive the worker's wait for it; its last segment then only beats
    the heart and leaves the camera offline as the worker marked it."""
    fam = small_camera
    worker = Worker(pool=DetectorPool(lambda: WardDetectors(NoText()), workers=1, backlog=64))
    try:
        worker.reconcile()
        run = worker.runs[fam.bed.camera.pk]
        run.stop.set()
        run.thread.join(timeout=60)
        Camera.objects.filter(pk=run.camera_id).update(state=Camera.State.OFFLINE)
        late = timezone.now()
        run._report(SimpleNamespace(screened=0, frames=10, screen=""), late, 10.0)
        camera = Camera.objects.get(pk=run.camera_id)
        assert camera.state == Camera.State.OFFLINE
        assert camera.seen_at == late
    finally:
        for other in worker.runs.values():
            other.stop.set()
        for other in worker.runs.values():
            other.thread.join(timeout=60)
        worker.pool.close()


@pytest.mark.django_db(transaction=True)
def test_a_paused_camera_sends_the_privacy_screen_from_the_pipeline(small_camera):
    fam = small_camera
    Camera.objects.filter(pk=fam.bed.camera.pk).update(
        paused_until=timezone.now() + timedelta(minutes=10), pause_reason="care"
    )
    camera = {"camera": str(fam.bed.camera.pk)}
    screened = sample("cradle_privacy_screen_seconds_total", camera)
    run_worker(20, until=lambda: LiveSegment.objects.filter(admission=fam.admission).count() >= 2)
    row = LiveSegment.objects.filter(admission=fam.admission).order_by("index").last()
    ref = storage.segment_store().get(fam.admission.media_id, str(fam.bed.camera.pk), row.index, "A" * row.units)
    frame = decode(ref)[5]
    screen = privacy_screen(160, 120, Screen.PAUSED)
    # The encoded, marked picture is the paused screen, not the bed, and the time on it is counted; the segment says
    # why it has no picture.
    assert np.abs(frame.astype(int) - screen.astype(int)).mean() < 6
    assert row.screen == "paused" and row.screened == round(row.duration * 10)
    # At least a second: 15 frames of 1/15 s each add up to 1 - 1e-16 in floating point.
    assert sample("cradle_privacy_screen_seconds_total", camera) - screened >= 1.0 - 1e-9


def test_camera_configuration_file_sets_the_shown_area_and_a_broken_one_masks_everything(tmp_path, settings):
    from cradle.viewing.camera_config import camera_policy

    settings.CRADLE = dataclasses.replace(settings.CRADLE, camera_config_dir=str(tmp_path))
    assert camera_policy(7).shown_area is None  # no file: today's behaviour, the whole picture
    (tmp_path / "7.json").write_text('{"shown_area": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}')
    assert camera_policy(7).shown_area == ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9))
    (tmp_path / "7.json").write_text('{"shown_area": [[0.1, 0.1]]}')
    from cradle.media.redact.masks import coverage

    assert coverage((48, 64), camera_policy(7), []).all()


@pytest.mark.django_db(transaction=True)
def test_the_worker_masks_everything_outside_a_cameras_shown_area(small_camera, tmp_path, settings):
    fam = small_camera
    settings.CRADLE = dataclasses.replace(settings.CRADLE, camera_config_dir=str(tmp_path))
    (tmp_path / f"{fam.bed.camera.pk}.json").write_text('{"shown_area": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}')
    run_worker(20, until=lambda: LiveSegment.objects.filter(admission=fam.admission).count() >= 2)
    segment = LiveSegment.objects.filter(admission=fam.admission).order_by("index").last()
    data = storage.segment_store().get(fam.admission.media_id, str(fam.bed.camera.pk), segment.index, "ref")
    frame = decode(data)[3].astype(int)
    width = frame.shape[1]
    right, left = frame[:, width // 2 + 4 :], frame[:, : width // 2 - 4]
    assert right.std() < 4 and abs(right.mean() - 48) < 8  # the fill, nothing of the room
    assert left.std() > 10


def test_a_worker_takes_only_the_cameras_it_can_redact(settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, worker_capacity=8.0)
    worker = Worker(pool=DetectorPool(lambda: WardDetectors(NoText()), workers=1))
    try:
        vga = ["sim://bed?size=640x480&fps=15"] * 10
        hd = ["sim://bed?size=1280x720&fps=15"] * 5
        assert worker._within_capacity(10, vga) == (8, 8)
        assert worker._within_capacity(5, hd) == (2, 2)
        assert worker._within_capacity(3, vga) == (3, 3)
    finally:
        worker.pool.close()
