"""`cradle queue`: runs the background queue (traces, daily clips, retention) apart from the camera pipelines."""

from __future__ import annotations

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand

from cradle import metrics, tasks


class Command(BaseCommand):
    help = "Run queued background work: RQ on Redis when REDIS_URL is set, otherwise the queue in the database."

    def handle(self, *args, **options) -> None:
        metrics.forget_dead_processes()
        self.stdout.write("Cradle queue running (Ctrl+C stops).")
        self.stdout.flush()
        try:
            if tasks.in_database():
                call_command("db_worker", queue_name="*", interval=1.0)
            else:
                # A worker that runs jobs in its own process and recovers from database outages (cradle/tasks.py).
                call_command(
                    "rqworker",
                    "default",
                    job_class="django_tasks_rq.Job",
                    worker_class="cradle.tasks.QueueWorker",
                    name=f"cradle-queue-{os.uname().nodename}-{os.getpid()}",
                )
        finally:
            metrics.process_ended()
