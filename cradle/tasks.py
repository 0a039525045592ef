"""Background work, queued through django-tasks: leak traces, keepsakes, daily clips and retention.

By default the queue is a table in Cradle's database and `cradle worker` runs it in a thread of its own, so that a
single machine needs nothing more. With `REDIS_URL` the queue is RQ on Redis and `cradle queue` runs it (as many of
those as the work needs, on any machine). Tasks take no arguments that could identify a family: each one looks up
its own work in the database, so a task run twice does no harm.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task, task_backends
from django_tasks.base import Task
from rq.worker import SimpleWorker

from cradle.outage import StateLog

log = logging.getLogger(__name__)


@task()
def run_traces() -> int:
    """Runs the leak traces privacy officers have queued; gives how many ran."""
    from cradle.forensics import jobs

    return jobs.run_pending()


@task()
def record_daily_clips() -> int:
    """Keeps the daily clips that are due; gives how many."""
    from cradle.viewing import clips

    return len(clips.record_daily())


@task()
def make_keepsakes() -> int:
    """Makes the keepsakes parents have asked for (cradle.viewing.keepsake); gives how many are ready."""
    from cradle.viewing import keepsake

    return keepsake.run_pending()


@task()
def send_notifications() -> int:
    """Sends the notifications that are due and tells families of cameras paused for long (cradle.notifications)."""
    from cradle.notifications import outbox

    outbox.watch_pauses()
    return outbox.send_due()


@task()
def apply_retention() -> bool:
    """Applies the retention rules (cradle.retention.service.run): media past its keeping time is destroyed.

    The retention service is imported here, at run time, so that the queue works on installations without it;
    gives whether it ran.
    """
    try:
        from cradle.retention import service
    except ImportError:
        log.warning("retention is not installed; nothing was destroyed")
        return False
    service.run()
    return True


def enqueue(work: Task) -> bool:
    """Queues `work`; gives False (and logs why) when the queue cannot be reached, so a page never fails for it."""
    try:
        work.enqueue()
    except Exception:
        log.exception("could not queue %s", work.name)
        return False
    return True


def in_database() -> bool:
    """Whether the queue is the embedded one in the database, which `cradle worker` runs."""
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)


class Schedule:
    """Queues the periodic work when it is due; the worker holding the housekeeping lease calls it every round."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}

    def tick(self) -> None:
        every = settings.CRADLE
        for work, seconds in (
            (record_daily_clips, every.daily_clips_every_seconds),
            (apply_retention, every.retention_every_seconds),
            (send_notifications, every.notify_every_seconds),
        ):
            now = time.monotonic()
            if now >= self._due.get(work.name, 0.0) and enqueue(work):
                self._due[work.name] = now + seconds
        if in_database() and time.monotonic() >= self._due.get("prune", 0.0):
            self._due["prune"] = time.monotonic() + 3600
            prune_finished()


def prune_finished(older_than: timedelta = timedelta(days=1)) -> int:
    """Forgets finished tasks of the database queue after a day (RQ forgets its own)."""
    from django_tasks_db.models import DBTaskResult

    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=timezone.now() - older_than).delete()
    return deleted


class QueueWorker(SimpleWorker):
    """RQ's in-process worker (no fork per job, so metrics stay with one process), with the database connection
    checked around every job.

    Outside a web request nothing closes a Django connection that broke: after a database outage every later job
    failed with "the connection is closed" for as long as the worker lived. A broken or stale connection is dropped
    before and after each job, so the first job after the outage opens a fresh one; the outage and its end are
    logged once each.
    """

    def execute_job(self, job, queue) -> None:
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()
            _report_database(job)


_queue_state = StateLog(log, "the database (background queue)")


def _report_database(job) -> None:
    """Tells the queue's state log whether the job's database was there (one line per change, not per job)."""
    from django.db import connection

    try:
        connection.ensure_connection()
    except DatabaseError as e:
        _queue_state.failed(e)
    else:
        _queue_state.ok()


def run_queue(stop: threading.Event, interval: float = 1.0) -> None:
    """Runs the database queue until `stop` is set (`cradle worker` does this in a thread)."""
    from django_tasks_db.management.commands.db_worker import Worker as QueueWorker

    runner = QueueWorker(
        queue_names=["*"],
        interval=interval,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"cradle-worker-{threading.get_native_id()}",
    )
    while not stop.is_set():
        try:
            runner.run()  # in batch mode: until the queue is empty
        except Exception as e:
            _queue_state.failed(e)
        else:
            _queue_state.ok()
        finally:
            close_old_connections()
        stop.wait(interval)
