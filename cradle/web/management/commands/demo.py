"""`cradle demo`: migrate, seed the demo unit, print the demo accounts and serve on http://127.0.0.1:8000."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from cradle.web import demo


class Command(BaseCommand):
    help = "Start the embedded demo (SQLite, local disk, simulated cameras) with demo accounts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--code", metavar="USERNAME", help="print the current sign-in code of a demo account")
        parser.add_argument("--no-serve", action="store_true", help="set up and print the accounts only")

    def handle(self, *args, **options) -> None:
        if options["code"]:
            return self._print_code(options["code"])
        call_command("init")
        accounts = demo.seed()
        self._write_accounts(accounts, options["bind"])
        if not options["no_serve"]:
            self._serve(options["bind"])

    def _serve(self, bind: str) -> None:
        """The pipeline worker and the admission feed (on loopback) in the background, the web application in the
        foreground; Ctrl+C stops all three."""
        cradle = os.path.join(os.path.dirname(sys.executable), "cradle")
        background = [
            subprocess.Popen([cradle, "worker"]),  # noqa: S603 - our own command
            subprocess.Popen([cradle, "adt", "--bind", settings.ADT["BIND"]]),  # noqa: S603
        ]
        try:
            subprocess.run([cradle, "serve", "--bind", bind], check=False)  # noqa: S603
        except KeyboardInterrupt:
            pass
        finally:
            for process in background:
                process.send_signal(signal.SIGTERM)
            for process in background:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _write_accounts(self, accounts, bind: str) -> None:
        out = self.stdout
        out.write("")
        out.write(f"Cradle demo: open http://{bind}/")
        out.write("Demo accounts (passwords are new on every start):")
        for a in accounts:
            line = f"  {a.role:<16} {a.username:<9} password {a.password}"
            if a.totp_secret:
                line += f"   authenticator secret {a.totp_secret} (code now: {demo.totp_now(a.totp_secret)})"
            out.write(line)
        out.write("A fresh sign-in code for a demo account: .venv/bin/cradle demo --code nurse (or parent)")
        out.write(f"Admission feed (HL7 v2 ADT over MLLP) on {settings.ADT['BIND']}: beds are NICU^^1-8 and SCN^^1-4.")
        out.write("")

    def _print_code(self, username: str) -> None:
        from allauth.mfa.adapter import get_adapter
        from allauth.mfa.models import Authenticator

        auth = Authenticator.objects.filter(user__username=username, type=Authenticator.Type.TOTP).first()
        if auth is None:
            raise CommandError(f"No demo account {username!r} with an authenticator; run `cradle demo` first.")
        self.stdout.write(demo.totp_now(get_adapter().decrypt(auth.data["secret"])))
