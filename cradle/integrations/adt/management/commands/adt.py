"""`cradle adt`: receives the hospital's admission feed (HL7 v2 ADT over MLLP) and applies it to Cradle."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cradle.integrations.adt import config as feed_config
from cradle.integrations.adt.mllp import Listener
from cradle.integrations.adt.receiver import FeedReceiver


class Command(BaseCommand):
    help = "Receive the hospital's HL7 v2 ADT feed over MLLP (admissions, transfers, discharges)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", help="HOST:PORT to listen on (default: CRADLE_ADT_BIND, 127.0.0.1:2575)")

    def handle(self, *args, **options) -> None:
        values = dict(settings.ADT)
        if options["bind"]:
            values["BIND"] = options["bind"]
        try:
            config = feed_config.load(values)
        except feed_config.ConfigError as e:
            raise CommandError(str(e)) from None
        try:
            listener = Listener(
                (config.host, config.port),
                FeedReceiver(config),
                allowed=config.allowed,
                tls=config.tls,
                max_bytes=config.max_bytes,
                idle_seconds=config.idle_seconds,
            )
        except OSError as e:
            raise CommandError(f"Cannot listen on {config.host}:{config.port}: {e.strerror}.") from None
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        host, port = listener.address
        scheme = "MLLP over TLS" if config.tls else "MLLP"
        self.stdout.write(f"Cradle admission feed listening on {host}:{port} ({scheme}; Ctrl+C stops).")
        self.stdout.flush()
        listener.serve(stop)
