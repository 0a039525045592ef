"""The embedded background queue: work queued in the database and run by `cradle worker`, no Redis needed."""

from __future__ import annotations

import threading
import time

import pytest
from django_tasks_db.models import DBTaskResult

from cradle import tasks
from cradle.forensics import jobs
from cradle.forensics.models import TraceJob


@pytest.mark.django_db(transaction=True)
def test_a_queued_trace_is_run_by_the_workers_queue_thread(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert tasks.in_database()
    suspect = tmp_path / "suspect-0"
    suspect.write_bytes(b"this is not a video")
    job = TraceJob.objects.create(
        unit=world.unit1, created_by=world.users["privacy"], suspects=[{"name": "found.mp4", "path": str(suspect)}]
    )
    jobs.start_in_background()
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    stop = threading.Event()
    thread = threading.Thread(target=tasks.run_queue, args=(stop, 0.2), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and TraceJob.objects.get(pk=job.pk).status == TraceJob.Status.QUEUED:
        time.sleep(0.2)
    stop.set()
    thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == TraceJob.Status.FAILED and job.error
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


@pytest.mark.django_db
def test_retention_is_queued_and_runs_once_it_is_installed(settings, monkeypatch):
    import sys
    import types

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    ran = []
    service = types.ModuleType("cradle.retention.service")
    service.run = lambda: ran.append(True)
    package = types.ModuleType("cradle.retention")
    package.service = service
    monkeypatch.setitem(sys.modules, "cradle.retention", package)
    monkeypatch.setitem(sys.modules, "cradle.retention.service", service)
    assert tasks.enqueue(tasks.apply_retention)
    assert ran == [True]


@pytest.mark.django_db
def test_the_schedule_queues_daily_clips_and_retention_once_until_they_are_due_again():
    schedule = tasks.Schedule()
    schedule.tick()
    schedule.tick()
    queued = sorted(DBTaskResult.objects.values_list("task_path", flat=True))
    assert queued == [
        "cradle.tasks.apply_retention",
        "cradle.tasks.record_daily_clips",
        "cradle.tasks.send_notifications",
    ]
