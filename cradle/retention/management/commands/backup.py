"""`cradle backup OUT`: an encrypted backup of the database, the sealed media and the wrapped keys."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cradle.media.store import MasterKeyError, StoreError
from cradle.retention.backup import BackupError, create


class Command(BaseCommand):
    help = "Write an encrypted backup to OUT (the master key and the secret key are not in it: keep them apart)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("out")

    def handle(self, *args, **options) -> None:
        try:
            figures = create(options["out"])
        except (BackupError, MasterKeyError, StoreError) as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"The backup could not be written to {options['out']}: {e.strerror}.") from None
        self.stdout.write(
            f"Backup written to {options['out']}: {figures.bytes} bytes, {figures.objects} stored objects, "
            f"database {figures.database_bytes} bytes, {figures.seconds:.2f} s."
        )
