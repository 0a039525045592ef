"""An admission's life: admitting a baby, discharge (and undoing one made in error), transfer, and the parents'
consent.

One module for every change of an admission's state, so that the nurse's and parents' pages, the hospital's admission
feed and the demo change it the same way: each function is plain (no request needed; one given is only for the audit
event), does the whole change (sessions, the camera, the live buffer, the family's notice) and records it. Destroying
media is the retention service's (cradle.retention.service): withdrawing all consent ends there.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.notifications.models import Kind
from cradle.notifications.outbox import tell_family
from cradle.retention.service import purge_live_buffer, shred
from cradle.unit.models import Admission, Bed, Camera, Invitation
from cradle.viewing import edge

# --- admission --------------------------------------------------------------------------------------------------


class AdmitError(Exception):
    """The baby cannot be admitted; the message is one sentence for the nurse."""


def admit(bed: Bed, *, nickname: str = "", inpatient_digest: str = "", by: Any = None) -> Admission:
    """Admits a baby to a free bed; its creation is audited in the name of whoever is acting (cradle.audit.creation).

    Raises AdmitError when the bed already has a baby admitted."""
    try:
        with transaction.atomic():
            return Admission.objects.create(
                unit=bed.unit, bed=bed, nickname=nickname, inpatient_digest=inpatient_digest, admitted_by=by
            )
    except IntegrityError:
        raise AdmitError(_("This bed already has a baby admitted.")) from None


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
        clips_until=admission.clips_until.isoformat(timespec="minutes") if admission.clips_until else "",
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
