"""Appending to and verifying the audit hash chain.

Each event stores the hash of the previous event and an HMAC-SHA256 over its own canonical content and that previous
hash, under a key derived from the master key (cradle.audit.keys), so an edit, a deletion or a reordering breaks the
chain at the first event it touches, and whoever can write the database, but has not the master key, cannot compute
new links to hide it. The chain head row catches a deleted tail within the database; the anchor beside the master key
(cradle.audit.anchor) catches a tail cut off together with the head row moved back. Logs written before keying keep
their plain SHA-256 links up to the event the anchor names: the first keyed link covers the hash of the last plain
one, which covers everything before it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from cradle.audit import anchor
from cradle.audit.keys import audit_keys
from cradle.audit.models import GENESIS, ChainHead, Event


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: sorted keys, no whitespace, UTC times with microseconds."""

    def value(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return v

    return json.dumps(
        {k: value(v) for k, v in fields.items()}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def event_fields(e: Event) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "unit_id": e.unit_id,
        "admission_id": e.admission_id,
        "ip": e.ip,
        "session": e.session,
        "outcome": e.outcome,
        "detail": e.detail,
    }


def link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The keyed link of an event with these fields after `prev_hash`."""
    return _link(audit_keys().chain, prev_hash, fields)


def plain_link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The link of events written before the chain was keyed: SHA-256, which anyone can compute."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()


def _link(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(fields), hashlib.sha256).hexdigest()


def append(**fields: Any) -> Event:
    """Adds one event at the end of the chain; concurrent writers are serialised on the chain head."""
    key = audit_keys().chain  # read before the write lock is taken
    with transaction.atomic():
        ChainHead.objects.get_or_create(pk=1)
        # The UPDATE takes the row lock (and SQLite's write lock) before the head is read.
        ChainHead.objects.filter(pk=1).update(seq=F("seq") + 1)
        head = ChainHead.objects.select_for_update().get(pk=1)
        event = Event(seq=head.seq, prev_hash=head.hash, **fields)
        # Round-trip the JSON so that the hash covers exactly what the database gives back.
        event.detail = json.loads(json.dumps(event.detail or {}, default=str))
        event.hash = _link(key, event.prev_hash, event_fields(event))
        event.save(force_insert=True)
        ChainHead.objects.filter(pk=1).update(hash=event.hash)
        transaction.on_commit(partial(anchor.after_commit, event.seq, event.hash, event.seq))
    return event


def append_many(items: list[dict[str, Any]]) -> None:
    """Adds several events in one transaction (a batch of media fetches), in the order given."""
    if not items:
        return
    key = audit_keys().chain
    with transaction.atomic():
        ChainHead.objects.get_or_create(pk=1)
        ChainHead.objects.filter(pk=1).update(seq=F("seq") + len(items))
        head = ChainHead.objects.select_for_update().get(pk=1)
        seq, prev = head.seq - len(items), head.hash
        first = seq + 1
        events = []
        for fields in items:
            seq += 1
            event = Event(seq=seq, prev_hash=prev, **fields)
            event.detail = json.loads(json.dumps(event.detail or {}, default=str))
            event.hash = _link(key, prev, event_fields(event))
            events.append(event)
            prev = event.hash
        Event.objects.bulk_create(events)
        ChainHead.objects.filter(pk=1).update(hash=prev)
        transaction.on_commit(partial(anchor.after_commit, seq, prev, first))


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"Audit chain broken at event {self.seq}: {self.problem}"

    def sentence(self, intact: int) -> str:
        return f"{self} ({intact} events before it are intact)."


@dataclass(frozen=True)
class AnchorProblem:
    """The anchor outside the database is missing, altered or unreadable: the log cannot be checked against it."""

    problem: str

    def __str__(self) -> str:
        return self.problem

    def sentence(self, intact: int) -> str:
        return self.problem


def verify(batch: int = 2000) -> tuple[int, Break | AnchorProblem | None]:
    """Walks the whole chain and checks it against the anchor; gives the number of intact events and the first
    problem, if any. Raises MasterKeyError when the master key is missing or unsafe."""
    keys = audit_keys()
    place = anchor.Anchor(settings.AUDIT_ANCHOR_FILE, keys.anchor)
    try:
        checkpoints = place.checkpoints()
    except anchor.AnchorMissing:
        last = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
        if last is not None:
            return 0, AnchorProblem(
                f"The audit anchor {place.path} is missing although the log holds events up to event {last}; put "
                "the original file back beside the master key, or run `cradle audit anchor` to anchor the log as it "
                "is now."
            )
        checkpoints = []
    except anchor.AnchorError as problem:
        return 0, AnchorProblem(str(problem))
    keyed_from = checkpoints[-1].keyed_from if checkpoints else 1
    pinned = {c.seq: c.hash for c in checkpoints}
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in _events(batch, checked=True):
        if isinstance(e, Unreadable):
            return count, Break(e.seq, f"its {e.field} cannot be read ({e.value}); it was edited")
        if e.seq != expected_seq:
            return count, Break(expected_seq, f"event {expected_seq} is missing (the next one is {e.seq})")
        if e.prev_hash != prev_hash:
            return count, Break(e.seq, "it does not link to the event before it (deleted or reordered)")
        fields = event_fields(e)
        link = _link(keys.chain, e.prev_hash, fields) if e.seq >= keyed_from else plain_link_hash(e.prev_hash, fields)
        if not hmac.compare_digest(e.hash, link):
            return count, Break(e.seq, "its content does not match its hash (edited)")
        if pinned.get(e.seq, e.hash) != e.hash:
            return count, Break(
                e.seq, "it is not the event the anchor recorded (cut off and written again, or rewritten)"
            )
        prev_hash, expected_seq, count = e.hash, e.seq + 1, count + 1
    head = ChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return count, Break(expected_seq, f"the log ends before its recorded last event {head_seq} (deleted)")
    newest = checkpoints[-1].seq if checkpoints else 0
    if newest > count:
        return count, Break(
            expected_seq,
            f"the log ends at event {count} although the anchor beside the master key recorded event {newest} "
            "(cut off)",
        )
    if count == 0 and _has_accounts():
        return count, Break(1, "the log is empty although Cradle has accounts (wiped)")
    return count, None


def _has_accounts() -> bool:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.exists()


@dataclass(frozen=True)
class Unreadable:
    """A stored event with a value the database cannot give back as its type (a time that is no time): edited."""

    seq: int
    field: str
    value: str


# What a stored value that is not of its column's type raises when Django converts it (SQLite keeps any text).
_CONVERSION_ERRORS = (ValueError, TypeError, AttributeError, OverflowError)


def _unreadable(last: int, batch: int) -> Unreadable:
    """The first event after `last` with a value that cannot be read, and which value."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    for seq in Event.objects.filter(seq__gt=last).order_by("seq").values_list("seq", flat=True)[:batch]:
        row = Event.objects.filter(seq=seq)
        for field in Event._meta.concrete_fields:
            try:
                row.values_list(field.attname, flat=True).first()
            except _CONVERSION_ERRORS:
                raw = row.annotate(raw=Cast(field.attname, TextField())).values_list("raw", flat=True).first()
                return Unreadable(seq, "time" if field.name == "at" else field.name, repr(str(raw)[:40]))
    return Unreadable(last + 1, "content", "?")


def _events(batch: int, checked: bool = False) -> Iterator[Event | Unreadable]:
    """Every event in order. `checked`: an event with a value that cannot be read ends the walk with an Unreadable
    that names it, rather than an exception from the database layer."""
    last = 0
    while True:
        try:
            rows = list(Event.objects.filter(seq__gt=last).order_by("seq")[:batch])
        except _CONVERSION_ERRORS:
            if not checked:
                raise
            unreadable = _unreadable(last, batch)
            yield from Event.objects.filter(seq__gt=last, seq__lt=unreadable.seq).order_by("seq")
            yield unreadable
            return
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
