"""`cradle audit verify`: checks the whole audit hash chain against its anchor. `cradle audit anchor`: anchors the log
as it is now, for an installation whose anchor was lost."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cradle.audit import anchor, chain, keying
from cradle.audit.anchor import AnchorError
from cradle.media.store import MasterKeyError


class Command(BaseCommand):
    help = "Verify the audit log's hash chain against its anchor (verify), or anchor the log as it is now (anchor)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["verify", "anchor"])

    def handle(self, *args, **options) -> None:
        try:
            if options["action"] == "anchor":
                self._anchor()
                return
            count, broken = chain.verify()
        except (MasterKeyError, AnchorError) as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"The audit anchor cannot be written: {e.strerror}.") from None
        if broken:
            raise CommandError(broken.sentence(count))
        self.stdout.write(f"Audit chain intact: {count} events verified.")

    def _anchor(self) -> None:
        place = anchor.current()
        try:
            place.checkpoints()
        except AnchorError:
            pass  # missing, altered or unreadable: what this command is for
        else:
            raise CommandError(f"The audit anchor {place.path} is in place and intact; nothing was changed.")
        done = keying.anchor_now("audit.anchored")
        self.stdout.write(
            f"Audit log anchored at event {done.head}; links are keyed from event {done.keyed_from} on. "
            "What happened to the log while it had no anchor cannot be seen: run `cradle audit verify` now."
        )
