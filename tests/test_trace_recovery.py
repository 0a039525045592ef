"""A trace job whose process died is queued again, and fails clearly once it has stopped too often."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cradle.audit.models import Event
from cradle.forensics import jobs
from cradle.forensics.models import TraceJob


def _running(world, minutes_since_heartbeat: float, attempts: int = 1) -> TraceJob:
    return TraceJob.objects.create(
        unit=world.unit1,
        created_by=world.users["privacy"],
        status=TraceJob.Status.RUNNING,
        progress=40,
        attempts=attempts,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes_since_heartbeat),
    )


def test_a_job_whose_process_died_is_queued_again_and_a_live_one_is_left_alone(world):
    stalled = _running(world, minutes_since_heartbeat=30)
    alive = _running(world, minutes_since_heartbeat=1)
    assert jobs.recover_stalled() == 1
    stalled.refresh_from_db()
    alive.refresh_from_db()
    assert stalled.status == TraceJob.Status.QUEUED and stalled.progress == 0 and stalled.progress_text
    assert alive.status == TraceJob.Status.RUNNING
    assert Event.objects.filter(action="trace.requeued", detail__job=stalled.pk).exists()


def test_a_job_that_stopped_too_often_fails_with_one_line(world):
    job = _running(world, minutes_since_heartbeat=30, attempts=jobs.MAX_ATTEMPTS)
    assert jobs.recover_stalled() == 1
    job.refresh_from_db()
    assert job.status == TraceJob.Status.FAILED and job.finished_at is not None
    assert "\n" not in job.error and str(jobs.MAX_ATTEMPTS) in job.error
    assert Event.objects.filter(action="trace.run", outcome="failed", detail__job=job.pk).exists()


def test_claiming_a_job_counts_the_attempt_and_beats(world, monkeypatch):
    job = TraceJob.objects.create(unit=world.unit1, created_by=world.users["privacy"])
    seen = {}

    def run(claimed):
        seen["job"] = claimed

    monkeypatch.setattr(jobs, "run", run)
    assert jobs.run_pending() == 1
    job.refresh_from_db()
    assert job.status == TraceJob.Status.RUNNING and job.attempts == 1 and job.heartbeat_at is not None
    assert seen["job"].pk == job.pk
