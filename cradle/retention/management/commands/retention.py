"""`cradle retention run|verify`: apply the retention policy, or prove that expired media is unreadable."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cradle.media.store import MasterKeyError, StoreError
from cradle.retention import service
from cradle.retention.ledger import LedgerError


class Command(BaseCommand):
    help = "Apply the retention policy (run), or prove that expired admissions' objects are unreadable (verify)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["run", "verify"])

    def handle(self, *args, **options) -> None:
        try:
            if options["action"] == "run":
                counts = service.run()
                for name, count in counts.items():
                    self.stdout.write(f"{name.replace('_', ' ')}: {count}")
                return
            report = service.verify()
        except (MasterKeyError, LedgerError, StoreError) as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"expired admissions: {report.expired_admissions}")
        self.stdout.write(f"shred ledger entries: {report.ledger_entries}")
        self.stdout.write(f"expired admissions with nothing stored: {report.expired_with_nothing_stored}")
        self.stdout.write(f"objects of expired or unknown admissions checked: {report.objects_checked}")
        self.stdout.write(f"undecryptable: {report.undecryptable}")
        self.stdout.write(f"violations: {len(report.violations)}")
        for line in report.violations:
            self.stderr.write(f"violation: {line}")
        if not report.ok:
            raise CommandError("Retention is not proven: expired media can still be read (see the violations above).")
        self.stdout.write("Every object of an expired admission is undecryptable or gone.")
