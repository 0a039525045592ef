"""`cradle worker`: runs the camera pipelines (redaction, marks, encrypted segments)."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cradle import metrics, tasks
from cradle.media.store import MasterKeyError, StoreError
from cradle.viewing.storage import segment_store
from cradle.worker.pipelines import Worker
from cradle.worker.processes import CameraProcesses, watch_parent


class Command(BaseCommand):
    help = "Run the camera pipelines of every bed with an admitted baby (and the background queue by default)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--metrics-bind",
            default=settings.CRADLE.worker_metrics_bind,
            help="also serve this worker's metrics over HTTP here, e.g. 127.0.0.1:9464 (a worker on its own machine)",
        )

        parser.add_argument(
            "--processes",
            type=int,
            default=settings.CRADLE.worker_processes,
            help="camera processes to run (0: one per core); each is a worker of its own, sharing the cameras through "
            "leases, so that the cameras' work runs on every core",
        )
        parser.add_argument("--camera-process", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        processes = options["processes"] or os.cpu_count() or 1
        if processes < 0:
            raise CommandError(f"--processes must be 0 (one per core) or more, not {processes}.")
        try:
            store = segment_store()
        except (MasterKeyError, StoreError) as e:
            raise CommandError(str(e)) from None
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if options["camera_process"]:
            # One of several camera processes (cradle.worker.processes): cameras only, stopped by its starter.
            watch_parent(stop)
            try:
                Worker().run_forever(stop)
            finally:
                metrics.process_ended()
            return
        # Writes a killed process left half-done: older than a minute, no live write is that slow.
        if swept := store.media_backend.sweep(older_than_s=60) + store.key_backend.sweep(older_than_s=60):
            self.stdout.write(f"Removed {swept} unfinished writes left by a process that stopped.")
        metrics.forget_dead_processes()
        if options["metrics_bind"]:
            try:
                metrics.serve(options["metrics_bind"])
            except (OSError, ValueError) as e:
                raise CommandError(f"Cannot serve metrics on {options['metrics_bind']}: {e}.") from None
        queue = None
        if tasks.in_database():
            # The embedded default: no separate queue process to run, so the worker runs the background work too.
            queue = threading.Thread(target=tasks.run_queue, args=(stop,), name="queue", daemon=True)
            queue.start()
        if processes > 1:
            self.stdout.write(f"Cradle worker running with {processes} camera processes (Ctrl+C stops).")
        else:
            self.stdout.write("Cradle worker running (Ctrl+C stops).")
        self.stdout.flush()
        try:
            if processes > 1:
                CameraProcesses(processes, stop).run()
            else:
                Worker().run_forever(stop)
        finally:
            if queue is not None:
                queue.join(timeout=30)
            metrics.process_ended()
