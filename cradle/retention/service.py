"""Retention: destroying an admission's media, the retention run and its proof.

Every function here is plain (no request needed), so that the worker's schedule, a job queue, the admission's
lifecycle (cradle.lifecycle: discharge, withdrawn consent) or `cradle retention` can call it alike. Media is destroyed
by destroying the admission's data key (crypto-shredding): the key first, recorded in the shred ledger, then the
ciphertexts, then the index rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.forensics import evidence
from cradle.media.store import MasterKey, MasterKeyError, SegmentStore, StoreError
from cradle.retention.ledger import LedgerError, ShredLedger
from cradle.unit.models import Admission
from cradle.updates import service as update_service
from cradle.updates.models import Update
from cradle.viewing import edge, variants
from cradle.viewing.models import Clip, LiveSegment
from cradle.viewing.storage import segment_store

# The objects the worker may store for a segment, whatever its mark units (kept in cradle.viewing.variants so that
# retention does not import the pipeline).
SEGMENT_OBJECTS = variants.SEGMENT_OBJECTS
_KEY_NAME = "datakey.sealed"


def ledger() -> ShredLedger:
    """The shred ledger of this installation, beside the master key."""
    return ShredLedger(settings.SHRED_LEDGER_FILE, MasterKey.load(settings.MASTER_KEY_FILE))


# --- destroying media -------------------------------------------------------------------------------------------


def purge_live_buffer(admission: Admission) -> int:
    """Removes the admission's live segments that are not part of a clip; gives how many."""
    rows = list(LiveSegment.objects.filter(admission=admission, in_clip=False).values_list("pk", "camera_id", "index"))
    store = segment_store()
    for _pk, camera_id, index in rows:
        for variant in SEGMENT_OBJECTS:
            store.delete(admission.media_id, str(camera_id), index, variant)
    LiveSegment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return len(rows)


def shred(admission: Admission, reason: str, *, by: Any = None, request: HttpRequest | None = None) -> int:
    """Destroys the admission's data key, then its stored objects and their index rows; gives the objects removed.

    The ledger line is written first: once it is on disk the key counts as destroyed, even if this process stops
    before the rest is done (the next run, or a restore, finishes the job).
    """
    now = timezone.now()
    ledger().append(admission.media_id, now, reason)
    store = segment_store()
    objects = len(store.media_backend.list(f"{admission.media_id}/"))
    store.shred(admission.media_id)
    edge.forget(admission.media_id)
    evidence.scrub(admission.media_id)
    with transaction.atomic():
        Update.objects.filter(admission=admission).delete()
        Clip.objects.filter(admission=admission).delete()
        LiveSegment.objects.filter(admission=admission).delete()
        Admission.objects.filter(pk=admission.pk).update(shredded_at=now)
    admission.shredded_at = now
    record(request, Action.ADMISSION_SHREDDED, admission=admission, actor=by, reason=reason, objects=objects)
    return objects


def replay_ledger() -> int:
    """Destroys again every key the ledger lists (after a restore); gives how many admissions were listed."""
    ids = ledger().media_ids()
    store = segment_store()
    for media_id in sorted(ids):
        store.shred(media_id)
        edge.forget(media_id)
        evidence.scrub(media_id)
    admissions = Admission.objects.filter(media_id__in=ids)
    Update.objects.filter(admission__in=admissions).delete()
    Clip.objects.filter(admission__in=admissions).delete()
    LiveSegment.objects.filter(admission__in=admissions).delete()
    admissions.filter(shredded_at__isnull=True).update(shredded_at=timezone.now())
    return len(ids)


def shred_unknown(reason: str = "restore") -> list[str]:
    """Destroys the data key and every stored object of each admission the database does not know, as shredding does
    (a ledger line first); gives their media ids.

    After a restore that replaced the database with an older backup, the admissions made since are gone from the
    database, but their keys and media are still stored: nothing would ever find them due for shredding again."""
    store = segment_store()
    known = set(Admission.objects.values_list("media_id", flat=True))
    folders: set[str] = set()
    for backend in {id(b): b for b in (store.media_backend, store.key_backend)}.values():
        for name in [*backend.list(""), *backend.unfinished("")]:
            folder, slash, _leaf = name.partition("/")
            if slash:
                folders.add(folder)
    unknown = sorted(folders - known)
    now = timezone.now()
    for media_id in unknown:
        ledger().append(media_id, now, reason)
        store.shred(media_id)
        edge.forget(media_id)
        evidence.scrub(media_id)
    return unknown


# --- the retention run --------------------------------------------------------------------------------------------


def expire_live_buffer(now: datetime | None = None) -> int:
    """Drops every live segment older than the live buffer and not in a clip; gives how many."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.CRADLE.live_buffer_seconds)
    old = list(
        LiveSegment.objects.filter(created_at__lt=cutoff, in_clip=False).values_list(
            "pk", "admission__media_id", "camera_id", "index"
        )
    )
    store = segment_store()
    for _pk, media_id, camera_id, index in old:
        for variant in SEGMENT_OBJECTS:
            store.delete(media_id, str(camera_id), index, variant)
    LiveSegment.objects.filter(pk__in=[pk for pk, *_ in old]).delete()
    return len(old)


def due_for_shredding(now: datetime | None = None) -> list[Admission]:
    """Discharged admissions whose grace period is over and whose key still exists."""
    now = now or timezone.now()
    candidates = Admission.objects.filter(discharged_at__isnull=False, shredded_at__isnull=True).select_related("unit")
    return [a for a in candidates if (until := a.clips_until) is not None and until <= now]


def audit_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=round(365.25 * settings.CRADLE.audit_retention_years))


# A temporary file this old is a write that a killed process never finished (a live one takes milliseconds).
UNFINISHED_WRITE_SECONDS = 600


def run(now: datetime | None = None) -> dict[str, int]:
    """Applies the retention policy once; gives counts of what it did."""
    now = now or timezone.now()
    counts = {"live_segments_expired": expire_live_buffer(now), "live_segments_of_stopped_cameras": 0}
    stopped = Admission.objects.filter(shredded_at__isnull=True).exclude(
        discharged_at__isnull=True, live_withdrawn_at__isnull=True
    )
    # A pipeline may store a last segment just after discharge or withdrawal; it goes here, not with the buffer.
    for admission in stopped.filter(segments__in_clip=False).distinct():
        counts["live_segments_of_stopped_cameras"] += purge_live_buffer(admission)
    # A worker that still held the key in memory may have sealed a last segment after the key went: unreadable, and
    # removed here with its row.
    counts["leftovers_of_shredded_admissions"] = 0
    for admission in Admission.objects.filter(shredded_at__isnull=False, segments__isnull=False).distinct():
        counts["leftovers_of_shredded_admissions"] += LiveSegment.objects.filter(admission=admission).count()
        segment_store().shred(admission.media_id)
        LiveSegment.objects.filter(admission=admission).delete()
    due = due_for_shredding(now)
    counts["admissions_shredded"] = len(due)
    counts["objects_destroyed"] = sum(shred(a, "retention") for a in due)
    counts["trace_files_removed"] = evidence.sweep()
    # Photos a nurse took for an update and never sent.
    counts["update_drafts_destroyed"] = update_service.forget_drafts()
    store = segment_store()
    counts["unfinished_writes_removed"] = store.media_backend.sweep(older_than_s=UNFINISHED_WRITE_SECONDS)
    if store.key_backend is not store.media_backend:
        counts["unfinished_writes_removed"] += store.key_backend.sweep(older_than_s=UNFINISHED_WRITE_SECONDS)
    # The audit log is append-only (the database refuses deletes); events past the retention period are counted so
    # that the privacy officer can archive them (see README, "Retention").
    counts["audit_events_past_retention"] = Event.objects.filter(at__lt=audit_cutoff(now)).count()
    if due:
        record(None, Action.RETENTION_RUN, **counts)
    return counts


# --- the proof ------------------------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `cradle retention verify` found: counts, and one line per violation."""

    expired_admissions: int = 0
    ledger_entries: int = 0
    objects_checked: int = 0
    undecryptable: int = 0
    expired_with_nothing_stored: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def verify(now: datetime | None = None) -> Verification:
    """Scans every stored object and proves that each one of an expired admission is undecryptable or gone.

    Expired: shredded, listed in the shred ledger, or past discharge plus grace (then also a violation: retention has
    not been applied). Objects of admissions the database does not know must be undecryptable too.
    """
    report = Verification()
    live = segment_store()
    # A fresh store, so that no data key cached in this process can make a destroyed key look alive.
    store = SegmentStore(live.media_backend, MasterKey.load(settings.MASTER_KEY_FILE), keys=live.key_backend)
    try:
        shredded = ledger().media_ids()
    except LedgerError as e:
        report.violations.append(str(e))
        shredded = set()
    report.ledger_entries = len(shredded)
    expired = shredded | set(Admission.objects.filter(shredded_at__isnull=False).values_list("media_id", flat=True))
    for admission in due_for_shredding(now):
        report.violations.append(f"admission {admission.pk} is past its grace period and was not shredded")
        expired.add(admission.media_id)
    known = set(Admission.objects.values_list("media_id", flat=True))
    stored: dict[str, list[str]] = {}
    unfinished: dict[str, list[str]] = {}
    for backend in {id(b): b for b in (store.media_backend, store.key_backend)}.values():
        for name in backend.list(""):
            folder, slash, leaf = name.partition("/")
            if slash:
                stored.setdefault(folder, [])
                if leaf != _KEY_NAME and name not in stored[folder]:
                    stored[folder].append(name)
        for name in backend.unfinished(""):
            folder, slash, _leaf = name.partition("/")
            if slash:
                unfinished.setdefault(folder, []).append(name)
    report.violations.extend(evidence.leftovers(expired))
    for folder, names in sorted(unfinished.items()):
        if folder in expired or folder not in known:
            report.violations.extend(f"the unfinished write {name} outlived its admission" for name in names)
    report.expired_admissions = len(expired)
    report.expired_with_nothing_stored = len(expired - set(stored))
    for folder, names in sorted(stored.items()):
        if folder in known and folder not in expired:
            continue
        what = "expired admission" if folder in expired else "admission unknown to the database"
        if store.has_key(folder):
            report.violations.append(f"the data key of {what} {folder} is still stored")
        for name in names:
            report.objects_checked += 1
            try:
                store.open_object(name)
            except (StoreError, MasterKeyError):
                report.undecryptable += 1
            else:
                report.violations.append(f"{name} of {what} {folder} can still be decrypted")
    return report
