"""Anchoring a log that has no anchor: a new installation, a log written before links were keyed, a lost anchor.

A hospital upgrading in place keeps its audit rows exactly as they are: rewriting years of evidence, with the
append-only guard lifted to do it, is what an auditor would least want to see. Instead the anchor records the first
event whose link is keyed; every event before it keeps its plain SHA-256 link, and the first keyed link covers the last
plain event's hash, so none of the older events can be changed without breaking a link that needs the key.
`cradle migrate` does this by itself when it finds a log whose first event has a plain link and no anchor, and records
it in the log.

A log whose anchor went missing (a lost disk, a data folder copied without it) is not anchored again by itself, since
that is exactly what someone hiding a cut-off tail would want: `cradle audit verify` reports it, and an operator
holding the master key decides with `cradle audit anchor`, which is recorded in the log too.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError

from cradle.audit import chain
from cradle.audit.actions import Action
from cradle.audit.anchor import Anchor, AnchorMissing, Checkpoint
from cradle.audit.keys import audit_keys
from cradle.audit.log import record
from cradle.audit.models import GENESIS, Event
from cradle.media.store import MasterKeyError


@dataclass(frozen=True)
class Anchored:
    """What anchoring did: the newest event anchored and the first one whose link is keyed."""

    head: int
    keyed_from: int

    @property
    def plain(self) -> int:
        return self.keyed_from - 1


def first_keyed(key: bytes) -> int:
    """The first event whose link is keyed under `key` (one past the last event if none is)."""
    last = 0
    for event in chain._events(2000):
        if isinstance(event, chain.Unreadable):  # (not given unless asked for: checked=False raises instead)
            continue
        fields = chain.event_fields(event)
        if event.hash == chain._link(key, event.prev_hash, fields):
            return event.seq
        last = event.seq
    return last + 1


def predates_keying() -> bool:
    """Whether the log's first event has a plain SHA-256 link: a log written before links were keyed."""
    first = Event.objects.order_by("seq").first()
    return first is not None and first.hash == chain.plain_link_hash(first.prev_hash, chain.event_fields(first))


def anchor_now(action: str) -> Anchored:
    """Anchors the log as it is now and records that in the log (as `action`); an empty log gets the genesis anchor."""
    keys = audit_keys()
    place = Anchor(settings.AUDIT_ANCHOR_FILE, keys.anchor)
    head = Event.objects.order_by("-seq").first()
    if head is None:
        place.reset(Checkpoint.now(0, GENESIS, keyed_from=1))
        return Anchored(0, 1)
    keyed_from = first_keyed(keys.chain)
    place.reset(Checkpoint.now(head.seq, head.hash, keyed_from))
    # The event itself is keyed, and its commit checkpoints it: from here on the anchor follows the log again.
    record(None, action, anchored_event=head.seq, plain_events=keyed_from - 1)
    return Anchored(head.seq, keyed_from)


def after_migrate(verbosity: int = 1, stdout=None, **kwargs) -> None:
    """Creates the anchor of a new installation and keys a log written before keying; warns of a missing anchor."""
    import sys

    out = stdout or sys.stdout
    try:
        keys = audit_keys()
        Anchor(settings.AUDIT_ANCHOR_FILE, keys.anchor).checkpoints()
        return
    except MasterKeyError:
        return  # a migrate before `cradle init`: init creates the key and migrates again
    except AnchorMissing:
        pass
    except Exception:
        return  # altered or unreadable: `cradle audit verify` says so; migrating must not stop on it
    try:
        empty = not Event.objects.exists()
        if empty or predates_keying():
            done = anchor_now(Action.AUDIT_KEYED)
            if done.head and verbosity:
                out.write(
                    f"The audit log's {done.plain} older events keep their links; from event {done.keyed_from} on "
                    f"links are keyed with the master key, and the log is anchored in {settings.AUDIT_ANCHOR_FILE}.\n"
                )
            return
    except DatabaseError:
        return
    out.write(
        f"The audit anchor {settings.AUDIT_ANCHOR_FILE} is missing although the log holds events; put the original "
        "file back, or run `cradle audit anchor` to anchor the log as it is now.\n"
    )
