"""`cradle audit verify`: checks the whole audit hash chain."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cradle.audit import chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, **options) -> None:
        count, broken = chain.verify()
        if broken:
            raise CommandError(f"{broken} ({count} events before it are intact).")
        self.stdout.write(f"Audit chain intact: {count} events verified.")
