"""`cradle audit verify`: checks the whole audit hash chain against its anchor. `cradle audit anchor`: anchors the log
as it is now, for an installation whose anchor was lost."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from cradle.audit import anchor, chain, keying, spool
from cradle.audit.actions import Action
from cradle.audit.anchor import AnchorError
from cradle.media.store import MasterKeyError
from cradle.outage import one_line


class Command(BaseCommand):
    help = "Verify the audit log's hash chain against its anchor (verify), or anchor the log as it is now (anchor)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["verify", "anchor"])

    def handle(self, *args, **options) -> None:
        try:
            if options["action"] == "anchor":
                self._anchor()
                return
            merged = self._merge_spool()
            count, broken = chain.verify()
        except (MasterKeyError, AnchorError) as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"The audit anchor cannot be written: {e.strerror}.") from None
        if broken:
            raise CommandError(broken.sentence(count))
        self.stdout.write(f"Audit chain intact: {count} events verified.")
        if merged:
            self.stdout.write(f"({merged} of them were waiting in the audit spool and were merged first.)")

    def _merge_spool(self) -> int:
        """Merges what waits in the audit spool, so that the chain verified is the whole log."""
        try:
            return spool.merge()
        except DatabaseError as e:
            raise CommandError(
                f"The audit spool {spool.path()} holds events that the database cannot take now ({one_line(e)}); "
                "they are kept, and merged once it takes writes again."
            ) from None

    def _anchor(self) -> None:
        place = anchor.current()
        try:
            place.checkpoints()
        except AnchorError:
            pass  # missing, altered or unreadable: what this command is for
        else:
            raise CommandError(f"The audit anchor {place.path} is in place and intact; nothing was changed.")
        done = keying.anchor_now(Action.AUDIT_ANCHORED)
        self.stdout.write(
            f"Audit log anchored at event {done.head}; links are keyed from event {done.keyed_from} on. "
            "What happened to the log while it had no anchor cannot be seen: run `cradle audit verify` now."
        )
