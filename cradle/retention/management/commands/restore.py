"""`cradle restore IN`: restore an encrypted backup, then destroy again every key the shred ledger lists, and the keys
and media of admissions the restored database does not know."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cradle.media.store import MasterKeyError, StoreError
from cradle.retention.backup import BackupError, restore
from cradle.retention.ledger import LedgerError


class Command(BaseCommand):
    help = "Restore an encrypted backup into this installation (empty, or with --replace)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", metavar="IN")
        parser.add_argument("--replace", action="store_true", help="wipe this installation's database first")

    def handle(self, *args, **options) -> None:
        try:
            figures = restore(options["source"], replace=options["replace"])
        except (BackupError, MasterKeyError, StoreError, LedgerError) as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"The backup could not be read: {e.strerror}.") from None
        self.stdout.write(
            f"Restored {options['source']}: {figures.bytes} bytes, {figures.objects} stored objects, "
            f"database {figures.database_bytes} bytes, {figures.seconds:.2f} s; "
            f"admissions unknown to the restored database destroyed: {figures.unknown_destroyed}; "
            f"destroyed keys kept destroyed: {figures.shredded_again}."
        )
