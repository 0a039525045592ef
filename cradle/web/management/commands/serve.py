"""`cradle serve`: the web application under gunicorn."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from cradle.integrations.directory import oidc
from cradle.media.store import MasterKeyError, StoreError
from cradle.viewing.storage import segment_store


class Command(BaseCommand):
    help = "Serve the Cradle web application."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default=settings.CRADLE.bind)
        # One thread per worker process, one more process than CPUs: threads of one process take turns at the
        # interpreter lock, and with several a fetch waited behind whichever was computing (bench/load.py measured
        # p99 0.4-3 s with 2-8 threads a worker, 13-33 ms with one).
        parser.add_argument("--workers", type=int, default=settings.CRADLE.workers)
        parser.add_argument("--threads", type=int, default=settings.CRADLE.threads)

    def handle(self, *args, **options) -> None:
        try:
            segment_store()  # a missing or wrong master key stops start-up here, before anything is served
        except (MasterKeyError, StoreError) as e:
            raise CommandError(str(e)) from None
        try:
            oidc.config()  # wrong settings of the hospital's sign-in stop start-up too, in one sentence
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        argv = [
            gunicorn,
            "cradle.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--threads",
            str(options["threads"]),
            # nginx keeps connections to the app open between fetches (deploy/nginx: keepalive_timeout 75s).
            "--keep-alive",
            "75",
            "--access-logfile",
            "-",
            "--forwarded-allow-ips",
            settings.CRADLE.proxy,
            "--config",
            "python:cradle.web.gunicorn_hooks",
        ]
        self.stdout.write(f"Serving on http://{options['bind']}/ (Ctrl+C stops)")
        sys.stdout.flush()
        os.execv(gunicorn, argv)  # noqa: S606 - replaces this process with the server
