"""`cradle init`: create the master key and the Web Push (VAPID) key (mode 0600) if there are none, and the database."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cradle.media.store import MasterKey
from cradle.notifications import webpush


class Command(BaseCommand):
    help = "Create the master key and Web Push key files if missing and bring the database up to date."

    def handle(self, *args, **options) -> None:
        path = settings.MASTER_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            MasterKey.create(path)
            self.stdout.write(f"Created the master key {path} (mode 0600). Back it up apart from the data.")
        if webpush.create_keys(settings.VAPID_KEY_FILE):
            self.stdout.write(f"Created the Web Push key {settings.VAPID_KEY_FILE} (mode 0600).")
        call_command("migrate", verbosity=0)
