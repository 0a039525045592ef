"""Appending to and verifying the audit hash chain.

Each event stores the hash of the previous event and a hash over its own canonical content and that previous hash, so an
edit, a deletion or a reordering breaks the chain at the first event it touches. The chain head row catches a deleted
tail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import F

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
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()


def append(**fields: Any) -> Event:
    """Adds one event at the end of the chain; concurrent writers are serialised on the chain head."""
    with transaction.atomic():
        ChainHead.objects.get_or_create(pk=1)
        # The UPDATE takes the row lock (and SQLite's write lock) before the head is read.
        ChainHead.objects.filter(pk=1).update(seq=F("seq") + 1)
        head = ChainHead.objects.select_for_update().get(pk=1)
        event = Event(seq=head.seq, prev_hash=head.hash, **fields)
        # Round-trip the JSON so that the hash covers exactly what the database gives back.
        event.detail = json.loads(json.dumps(event.detail or {}, default=str))
        event.hash = link_hash(event.prev_hash, event_fields(event))
        event.save(force_insert=True)
        ChainHead.objects.filter(pk=1).update(hash=event.hash)
    return event


def append_many(items: list[dict[str, Any]]) -> None:
    """Adds several events in one transaction (a batch of media fetches), in the order given."""
    if not items:
        return
    with transaction.atomic():
        ChainHead.objects.get_or_create(pk=1)
        ChainHead.objects.filter(pk=1).update(seq=F("seq") + len(items))
        head = ChainHead.objects.select_for_update().get(pk=1)
        seq, prev = head.seq - len(items), head.hash
        events = []
        for fields in items:
            seq += 1
            event = Event(seq=seq, prev_hash=prev, **fields)
            event.detail = json.loads(json.dumps(event.detail or {}, default=str))
            event.hash = link_hash(prev, event_fields(event))
            events.append(event)
            prev = event.hash
        Event.objects.bulk_create(events)
        ChainHead.objects.filter(pk=1).update(hash=prev)


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"Audit chain broken at event {self.seq}: {self.problem}"


def verify(batch: int = 2000) -> tuple[int, Break | None]:
    """Walks the whole chain; gives the number of intact events and the first broken link, if any."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in _events(batch):
        if e.seq != expected_seq:
            return count, Break(expected_seq, f"event {expected_seq} is missing (the next one is {e.seq})")
        if e.prev_hash != prev_hash:
            return count, Break(e.seq, "it does not link to the event before it (deleted or reordered)")
        if e.hash != link_hash(e.prev_hash, event_fields(e)):
            return count, Break(e.seq, "its content does not match its hash (edited)")
        prev_hash, expected_seq, count = e.hash, e.seq + 1, count + 1
    head = ChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return count, Break(expected_seq, f"the log ends before its recorded last event {head_seq} (deleted)")
    if count == 0 and _has_accounts():
        return count, Break(1, "the log is empty although Cradle has accounts (wiped)")
    return count, None


def _has_accounts() -> bool:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.exists()


def _events(batch: int) -> Iterator[Event]:
    last = 0
    while True:
        rows = list(Event.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
