"""`cradle worker`: runs the camera pipelines (redaction, marks, encrypted segments)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from cradle.media.store import MasterKeyError, StoreError
from cradle.viewing.storage import segment_store
from cradle.viewing.worker import Worker


class Command(BaseCommand):
    help = "Run the camera pipelines of every bed with an admitted baby."

    def handle(self, *args, **options) -> None:
        try:
            segment_store()
        except (MasterKeyError, StoreError) as e:
            raise CommandError(str(e)) from None
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("Cradle worker running (Ctrl+C stops).")
        Worker().run_forever(stop)
