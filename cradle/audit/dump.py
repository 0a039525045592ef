"""The audit log as a backup carries it: every event exactly as stored, the chain head, and the anchor's checkpoint.

It does not go through Django's fixtures, whose JSON keeps times to the millisecond: each link covers its event's time
to the microsecond, so a restored log would fail at its first event. Here each event is one JSON line holding the stored
values themselves. The backup also records the anchor's newest checkpoint and the first keyed event, read before the
head and the events (the anchor never runs ahead of a commit, so the checkpoint is always among them): a restore
anchors the restored log to it, and a log cut or rewritten before the backup was taken is still found after.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings

from cradle.audit import keying
from cradle.audit.anchor import Anchor, AnchorError, Checkpoint
from cradle.audit.keys import audit_keys
from cradle.audit.models import GENESIS, ChainHead, Event

FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "unit_id",
    "admission_id",
    "ip",
    "session",
    "outcome",
    "detail",
    "prev_hash",
    "hash",
)
# What Django's fixture leaves out of the database dump: these travel as written here.
MODELS = ["audit.event", "audit.chainhead"]
_BATCH = 2000


def anchored() -> dict[str, Any] | None:
    """The anchor's newest checkpoint, for the manifest; None when the anchor is missing or altered (the restore then
    anchors the log as it finds it, as `cradle audit anchor` would)."""
    try:
        newest = Anchor(settings.AUDIT_ANCHOR_FILE, audit_keys().anchor).checkpoints()[-1]
    except AnchorError:
        return None
    return {"seq": newest.seq, "hash": newest.hash, "keyed_from": newest.keyed_from}


def dump() -> tuple[bytes, dict[str, Any] | None]:
    """The log as JSON lines (the head first, then every event up to it) and the anchor's checkpoint."""
    checkpoint = anchored()
    head = ChainHead.objects.filter(pk=1).values("seq", "hash").first() or {"seq": 0, "hash": GENESIS}
    lines = [json.dumps({"head": head}, separators=(",", ":"))]
    last = 0
    while True:
        # Events committed after the head was read are left out: the head and its events are one state of the log.
        rows = list(Event.objects.filter(seq__gt=last, seq__lte=head["seq"]).order_by("seq").values(*FIELDS)[:_BATCH])
        if not rows:
            break
        for row in rows:
            row["at"] = row["at"].isoformat()
            lines.append(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
        last = rows[-1]["seq"]
    return ("\n".join(lines) + "\n").encode(), checkpoint


def load(lines: Iterable[bytes]) -> int:
    """Writes the log back from dump()'s lines, into a database whose log is empty; gives the number of events."""
    count = 0
    head: dict[str, Any] = {"seq": 0, "hash": GENESIS}
    batch: list[Event] = []
    for row in _rows(lines):
        if "head" in row:
            head = row["head"]
            continue
        row["at"] = datetime.fromisoformat(row["at"])
        batch.append(Event(**row))
        if len(batch) >= _BATCH:
            Event.objects.bulk_create(batch)
            count += len(batch)
            batch.clear()
    Event.objects.bulk_create(batch)
    count += len(batch)
    ChainHead.objects.update_or_create(pk=1, defaults={"seq": head["seq"], "hash": head["hash"]})
    return count


def anchor_restored(checkpoint: dict[str, Any] | None) -> int | None:
    """Anchors the restored log to the backup's checkpoint (or, for a backup without one, to the log as restored);
    gives the event the anchor stood at before, for the record of the restore."""
    keys = audit_keys()
    place = Anchor(settings.AUDIT_ANCHOR_FILE, keys.anchor)
    try:
        before: int | None = place.checkpoints()[-1].seq
    except AnchorError:
        before = None
    if checkpoint is not None:
        place.reset(Checkpoint.now(checkpoint["seq"], checkpoint["hash"], checkpoint["keyed_from"]))
    else:
        head = Event.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS)
        place.reset(Checkpoint.now(head[0], head[1], keying.first_keyed(keys.chain)))
    return before


def _rows(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield json.loads(line)
