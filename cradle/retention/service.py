"""The data lifecycle of an admission: discharge, transfer, consent, the retention run and its proof.

Every function here is plain (no request needed), so that the nurse's pages, the worker's schedule, the hospital's
admission feed or a job queue can call it alike. Media is destroyed by destroying the admission's data key
(crypto-shredding): the key first, recorded in the shred ledger, then the ciphertexts, then the index rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.forensics import evidence
from cradle.media.store import MasterKey, MasterKeyError, SegmentStore, StoreError
from cradle.notifications.models import Kind
from cradle.notifications.outbox import tell_family
from cradle.retention.ledger import LedgerError, ShredLedger
from cradle.unit.models import Admission, Bed, Camera, Invitation
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


# --- discharge and transfer -------------------------------------------------------------------------------------


def end_family_sessions(admission: Admission, reason: str = DeviceSession.EndReason.ACCESS_ENDED) -> int:
    """Signs every family member of the admission out everywhere: an open player's next segment is refused, and
    its page learns `reason` (cradle.viewing.states) to tell them why."""
    ended = 0
    for membership in admission.family.filter(revoked_at__isnull=True).select_related("user"):
        ended += sessions.end_all(membership.user, reason)
    return ended


def discharge(admission: Admission, *, by: Any = None, request: HttpRequest | None = None) -> int:
    """Discharges the baby: sessions end at once, the camera stops, the live buffer goes; clips stay for the grace
    period. Gives the number of sessions ended."""
    now = timezone.now()
    with transaction.atomic():
        updated = Admission.objects.filter(pk=admission.pk, discharged_at__isnull=True).update(discharged_at=now)
        Invitation.objects.filter(admission=admission, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
    if not updated:
        return 0
    admission.discharged_at = now
    ended = end_family_sessions(admission, DeviceSession.EndReason.DISCHARGED)
    edge.forget(admission.media_id)  # nginx's copies go with the family's sessions; clips are copied again if watched
    purged = purge_live_buffer(admission)
    _camera_offline(admission)
    record(
        request,
        Action.ADMISSION_DISCHARGED,
        admission=admission,
        actor=by,
        sessions_ended=ended,
        live_segments_removed=purged,
        clips_until=admission.clips_until.isoformat(timespec="minutes"),
    )
    tell_family(admission, Kind.STAY)
    return ended


class TransferError(Exception):
    """The transfer cannot be made; the message is one sentence for the nurse."""


def transfer(
    admission: Admission,
    bed: Bed,
    *,
    by: Any = None,
    request: HttpRequest | None = None,
    within_unit: bool = False,
) -> None:
    """Moves the admission to a free bed of another unit (or, for the hospital's admission feed, `within_unit`, of
    the same one). The family keeps its access, sessions and clips; the old bed's camera stops and the new one's
    starts."""
    if admission.discharged_at is not None or admission.shredded_at is not None:
        raise TransferError(_("This baby has been discharged and cannot be transferred."))
    if bed.unit_id == admission.unit_id and not within_unit:
        raise TransferError(_("Choose a bed in another unit."))
    if bed.pk == admission.bed_id:
        raise TransferError(_("The baby is already in that bed."))
    old_unit, old_bed = admission.unit_id, admission.bed
    with transaction.atomic():
        if Admission.objects.select_for_update().filter(bed=bed, discharged_at__isnull=True).exists():
            raise TransferError(_("That bed is no longer free; choose another."))
        Admission.objects.filter(pk=admission.pk).update(unit_id=bed.unit_id, bed_id=bed.pk)
    admission.unit_id, admission.bed = bed.unit_id, bed
    _bed_camera_stopped(old_bed.pk)
    for unit in dict.fromkeys((old_unit, bed.unit_id)):
        record(
            request,
            Action.ADMISSION_TRANSFERRED,
            admission=admission,
            unit=unit,
            actor=by,
            from_unit=old_unit,
            from_bed=old_bed.label,
            to_unit=bed.unit_id,
            to_bed=bed.label,
        )
    tell_family(admission, Kind.STAY)


def cancel_discharge(
    admission: Admission, bed: Bed | None = None, *, by: Any = None, request: HttpRequest | None = None
) -> None:
    """Undoes a discharge made in error (the hospital's feed sends A13): the baby is in a free bed again (its old
    one unless another is given) and the camera films again. Sessions that the discharge ended stay ended: the
    family signs in again."""
    if admission.shredded_at is not None:
        raise TransferError(_("This baby's videos have already been destroyed; admit the baby again."))
    bed = bed or admission.bed
    with transaction.atomic():
        if Admission.objects.select_for_update().filter(bed=bed, discharged_at__isnull=True).exists():
            raise TransferError(_("That bed is no longer free; choose another."))
        reopened = Admission.objects.filter(pk=admission.pk, discharged_at__isnull=False).update(
            discharged_at=None, unit_id=bed.unit_id, bed_id=bed.pk
        )
    if not reopened:
        return
    admission.discharged_at, admission.unit_id, admission.bed = None, bed.unit_id, bed
    record(request, Action.ADMISSION_DISCHARGE_CANCELLED, admission=admission, actor=by, bed=bed.label)


def _camera_offline(admission: Admission) -> None:
    _bed_camera_stopped(admission.bed_id)


def _bed_camera_stopped(bed_id: int) -> None:
    """The bed's camera stops filming this baby: offline, and a nurse's pause ends with the admission it was for
    (a freed bed is never "paused until 15:29")."""
    Camera.objects.filter(bed_id=bed_id).update(
        state=Camera.State.OFFLINE, state_changed_at=timezone.now(), seen_at=None, paused_until=None, pause_reason=""
    )


# --- consent ----------------------------------------------------------------------------------------------------


def withdraw_live(admission: Admission, *, by: Any = None, request: HttpRequest | None = None) -> None:
    """The parents withdraw consent to live viewing: the camera stops for this baby and the live buffer goes.
    Clips already kept stay."""
    now = timezone.now()
    updated = Admission.objects.filter(pk=admission.pk, live_withdrawn_at__isnull=True).update(live_withdrawn_at=now)
    admission.live_withdrawn_at = admission.live_withdrawn_at or now
    purged = purge_live_buffer(admission)
    edge.forget(admission.media_id)
    _camera_offline(admission)
    if updated:
        record(request, Action.CONSENT_LIVE_WITHDRAWN, admission=admission, actor=by, live_segments_removed=purged)


def withdraw_everything(admission: Admission, *, by: Any = None, request: HttpRequest | None = None) -> int:
    """The parents withdraw consent to everything: the family's access ends and the media is destroyed at once.
    Gives the number of stored objects destroyed."""
    now = timezone.now()
    Admission.objects.filter(pk=admission.pk, live_withdrawn_at__isnull=True).update(live_withdrawn_at=now)
    Invitation.objects.filter(admission=admission, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    ended = end_family_sessions(admission)
    record(request, Action.CONSENT_WITHDRAWN, admission=admission, actor=by, sessions_ended=ended)
    _camera_offline(admission)
    return shred(admission, "consent", by=by, request=request)


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
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.CRADLE["LIVE_BUFFER_SECONDS"])
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
    return [a for a in candidates if a.clips_until <= now]


def audit_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=round(365.25 * settings.CRADLE["AUDIT_RETENTION_YEARS"]))


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
