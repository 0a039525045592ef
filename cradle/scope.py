"""Authorisation in one place. Every view and API endpoint obtains its objects through these functions.

Anything outside the user's scope is a 404, so that a guessed id tells nothing. Families see their own admission;
staff see their own unit, or another unit for at most an hour under break-glass.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404 as _get_or_404
from django.utils import timezone

from cradle.accounts import second_step
from cradle.accounts.models import DeviceSession, User
from cradle.unit.models import (
    Admission,
    Bed,
    BreakGlassGrant,
    Camera,
    FamilyMembership,
    Invitation,
    StaffMembership,
    Unit,
)
from cradle.viewing.models import Clip, Keepsake
from cradle.web.converters import MAX_ID

Role = StaffMembership.Role


def _get(queryset, pk: object, **lookups: object):
    """The object with this id among `queryset` narrowed by `lookups`, or 404. An id no database could hold (a guessed
    or crafted number past 64 bits) is a 404 like any other id outside the scope, not a database error."""
    if not isinstance(pk, int) or not 0 < pk <= MAX_ID:
        raise Http404
    return _get_or_404(queryset, pk=pk, **lookups)


def staff_unit_ids(user: User, *roles: str, break_glass: bool = True) -> set[int]:
    """Units where the user holds one of these staff roles, plus units open to them under break-glass (nurses)."""
    if not user.is_authenticated:
        return set()
    # One query gives both the units and whether the user nurses anywhere: every media fetch comes through here.
    held = list(StaffMembership.objects.filter(user=user, role__in=roles or Role.values).values_list("unit_id", "role"))
    ids = {unit_id for unit_id, _role in held}
    nurse = any(role == Role.NURSE for _unit_id, role in held)
    if break_glass and (not roles or Role.NURSE in roles) and nurse:
        ids |= set(
            BreakGlassGrant.objects.filter(user=user, expires_at__gt=timezone.now()).values_list("unit_id", flat=True)
        )
    return ids


def is_staff(user: User, *roles: str) -> bool:
    if not user.is_authenticated:
        return False
    return StaffMembership.objects.filter(user=user, role__in=roles or Role.values).exists()


def active_family(user: User, *roles: str) -> QuerySet[FamilyMembership]:
    """The user's family memberships that give full access: not revoked, baby still in the unit, media not
    destroyed."""
    if not user.is_authenticated:
        return FamilyMembership.objects.none()
    return FamilyMembership.objects.filter(
        user=user,
        revoked_at__isnull=True,
        admission__discharged_at__isnull=True,
        admission__shredded_at__isnull=True,
        role__in=roles or FamilyMembership.Role.values,
    )


def grace_admission_ids(user: User, *roles: str) -> set[int]:
    """Discharged admissions whose clips the user's family may still watch: until discharge plus the unit's grace
    period, and while the key exists. Never live."""
    if not user.is_authenticated:
        return set()
    memberships = FamilyMembership.objects.filter(
        user=user,
        revoked_at__isnull=True,
        admission__discharged_at__isnull=False,
        admission__shredded_at__isnull=True,
        role__in=roles or FamilyMembership.Role.values,
    ).select_related("admission__unit")
    now = timezone.now()
    return {m.admission_id for m in memberships if (until := m.admission.clips_until) is not None and until > now}


def family_admission_ids(user: User, *roles: str) -> set[int]:
    """Admissions whose clips the user's family may watch: in the unit, or discharged within the grace period."""
    return set(active_family(user, *roles).values_list("admission_id", flat=True)) | grace_admission_ids(user, *roles)


def watchable_admissions(user: User) -> QuerySet[Admission]:
    """Admissions whose baby the user may see: their own family's (after discharge, for the grace period: only clips
    remain then, the live buffer having gone at discharge), or any in a unit where they nurse."""
    units = staff_unit_ids(user, Role.NURSE)
    return (
        Admission.objects.filter(
            Q(pk__in=family_admission_ids(user)) | Q(unit_id__in=units, discharged_at__isnull=True),
            shredded_at__isnull=True,
        )
        .select_related("bed", "unit", "bed__camera")
        .distinct()
    )


def live_allowed(admission: Admission) -> bool:
    """Whether the admission's live picture may be shown at all: baby in the unit and consent not withdrawn."""
    return admission.discharged_at is None and admission.live_withdrawn_at is None and admission.shredded_at is None


SECOND_STEP_NEEDED = "second step needed"


def media_refusal(user: User, admission: Admission) -> str:
    """Why media of an admission in the user's scope may still not be served to them ("" when it may): the unit
    requires a second sign-in step and the person has none (cradle.accounts.second_step). Every media path asks this
    after the scope look-up: live playlists, segments, keys, clip playlists, keepsakes, pages with a player."""
    return SECOND_STEP_NEEDED if second_step.standing(user, admission.unit).refused else ""


def second_step_standing(user: User, admission: Admission) -> second_step.Standing:
    """What the baby's page tells the person about the unit's second-step rule: refused, or a reminder with a date."""
    return second_step.standing(user, admission.unit)


def get_live_admission(user: User, admission_id: int) -> Admission:
    """An admission whose live picture the user may watch now: watchable, and live allowed (for live playlists and
    live segment addresses; clips go through get_watchable_admission)."""
    admission = get_watchable_admission(user, admission_id)
    if not live_allowed(admission):
        raise Http404
    return admission


def get_consenting_parent_admission(user: User, admission_id: int) -> Admission:
    """An admission whose consent this user may withdraw: a parent's, in the unit or within the grace period."""
    ids = family_admission_ids(user, FamilyMembership.Role.PARENT)
    return _get(Admission.objects.select_related("bed", "unit"), admission_id, pk__in=ids)


def get_watchable_admission(user: User, admission_id: int) -> Admission:
    return _get(watchable_admissions(user), admission_id)


def get_parent_admission(user: User, admission_id: int) -> Admission:
    """An admission the user is a parent of: who watched, the family page, inviting relatives."""
    ids = active_family(user, FamilyMembership.Role.PARENT).values("admission_id")
    return _get(Admission.objects.select_related("bed", "unit"), admission_id, pk__in=ids)


def get_nursed_admission(user: User, admission_id: int) -> Admission:
    units = staff_unit_ids(user, Role.NURSE)
    return _get(
        Admission.objects.select_related("bed", "unit"),
        admission_id,
        unit_id__in=units,
        discharged_at__isnull=True,
    )


def get_family_contact_for_nurse(user: User, membership_id: int) -> FamilyMembership:
    """A family member whose contact details a nurse of their baby's unit may reveal (audited by the caller)."""
    units = staff_unit_ids(user, Role.NURSE)
    return _get(
        FamilyMembership.objects.select_related("user", "admission"),
        membership_id,
        admission__unit_id__in=units,
        admission__discharged_at__isnull=True,
        revoked_at__isnull=True,
    )


def get_nursed_unit(user: User, unit_id: int) -> Unit:
    return _get(Unit, unit_id, pk__in=staff_unit_ids(user, Role.NURSE))


def get_nursed_bed(user: User, bed_id: int) -> Bed:
    units = staff_unit_ids(user, Role.NURSE)
    return _get(Bed.objects.select_related("unit"), bed_id, unit_id__in=units)


def get_administered_unit(user: User, unit_id: int) -> Unit:
    return _get(Unit, unit_id, pk__in=staff_unit_ids(user, Role.ADMINISTRATOR))


def get_administered_camera(user: User, camera_id: int) -> Camera:
    """A camera in service at a bed of a unit the user administers (set-up, check, retire)."""
    units = staff_unit_ids(user, Role.ADMINISTRATOR)
    return _get(Camera.objects.select_related("bed", "bed__unit"), camera_id, bed__unit_id__in=units)


def audited_unit_ids(user: User) -> set[int]:
    return staff_unit_ids(user, Role.PRIVACY_OFFICER)


def _audited_units_or_404(user: User) -> set[int]:
    """The units the user audits; a 404 for someone who audits none (the privacy office's pages are theirs)."""
    units = audited_unit_ids(user)
    if not units:
        raise Http404
    return units


def audited_alerts(user: User) -> QuerySet:
    """The alerts of the units the user audits, newest first (a 404 for someone who audits none)."""
    from cradle.audit.models import Alert

    return Alert.objects.filter(unit_id__in=_audited_units_or_404(user))


def get_audited_alert(user: User, alert_id: int):
    """An alert of a unit the user audits (acknowledging it, reinstating the account it suspended)."""
    return _get(audited_alerts(user), alert_id)


def audited_trace_jobs(user: User) -> QuerySet:
    """Leak traces of the units the user audits, newest first (a 404 for someone who audits none): their reports
    hold frames of a baby and name accounts."""
    from cradle.forensics.models import TraceJob

    return TraceJob.objects.filter(unit_id__in=_audited_units_or_404(user)).select_related("unit", "created_by")


def get_audited_trace_job(user: User, job_id: int):
    return _get(audited_trace_jobs(user), job_id)


def get_family_member_for_parent(user: User, membership_id: int) -> FamilyMembership:
    """A relative whom this parent may revoke: same admission, still active, not a parent."""
    ids = active_family(user, FamilyMembership.Role.PARENT).values("admission_id")
    return _get(
        FamilyMembership.objects.select_related("user", "admission"),
        membership_id,
        admission_id__in=ids,
        role=FamilyMembership.Role.RELATIVE,
        revoked_at__isnull=True,
    )


def get_family_member_for_nurse(user: User, membership_id: int) -> FamilyMembership:
    units = staff_unit_ids(user, Role.NURSE)
    return _get(
        FamilyMembership.objects.select_related("user", "admission"),
        membership_id,
        admission__unit_id__in=units,
        admission__discharged_at__isnull=True,
    )


def invitations_issued_by_scope(user: User) -> QuerySet[Invitation]:
    """Invitations the user may see and revoke: those of admissions they nurse, or relatives' ones they parent."""
    units = staff_unit_ids(user, Role.NURSE)
    parent_of = active_family(user, FamilyMembership.Role.PARENT).values("admission_id")
    return Invitation.objects.filter(
        Q(admission__unit_id__in=units) | Q(admission_id__in=parent_of, role=FamilyMembership.Role.RELATIVE),
        admission__discharged_at__isnull=True,
    ).select_related("admission", "admission__bed")


def get_invitation(user: User, invitation_id: int) -> Invitation:
    return _get(invitations_issued_by_scope(user), invitation_id)


def get_own_device_session(user: User, public_id: str) -> DeviceSession:
    if not user.is_authenticated:
        raise Http404
    return _get_or_404(DeviceSession, user=user, public_id=public_id, ended_at__isnull=True)


def get_nursed_camera(user: User, camera_id: int) -> Camera:
    units = staff_unit_ids(user, Role.NURSE)
    return _get(Camera.objects.select_related("bed", "bed__unit"), camera_id, bed__unit_id__in=units)


def watchable_clips(user: User) -> QuerySet[Clip]:
    return Clip.objects.filter(admission__in=watchable_admissions(user).values("pk")).select_related("admission")


def get_watchable_clip(user: User, clip_id: int) -> Clip:
    return _get(watchable_clips(user).select_related("admission__bed", "admission__unit"), clip_id)


def get_parent_clip(user: User, clip_id: int) -> Clip:
    """A clip of a baby the user is a parent of (keepsakes are for parents, also during the grace period)."""
    ids = family_admission_ids(user, FamilyMembership.Role.PARENT)
    return _get(Clip.objects.select_related("admission"), clip_id, admission_id__in=ids)


def get_own_keepsake(user: User, keepsake_id: int) -> Keepsake:
    """A keepsake this parent asked for, of a baby whose clips they may still see (the grace period included)."""
    if not user.is_authenticated:
        raise Http404
    ids = family_admission_ids(user, FamilyMembership.Role.PARENT)
    return _get(Keepsake.objects.select_related("clip__admission"), keepsake_id, user=user, clip__admission_id__in=ids)


def watchable_updates(user: User) -> QuerySet:
    """Care-team updates the user may read: those of babies they may see, except, for a relative, when the parents
    chose that this relative does not see updates (cradle.updates.models.RelativeView)."""
    from cradle.updates.models import Update

    limited = FamilyMembership.objects.filter(
        user=user, role=FamilyMembership.Role.RELATIVE, revoked_at__isnull=True, update_view__sees_updates=False
    ).values("admission_id")
    return (
        Update.objects.filter(admission__in=watchable_admissions(user).values("pk"), sent_at__isnull=False)
        .exclude(admission_id__in=limited)
        .select_related("admission", "author")
    )


def get_watchable_update(user: User, update_id: int):
    return _get(watchable_updates(user), update_id)


def get_own_update_draft(user: User, update_id: int):
    """An update this nurse is still writing, of a baby they nurse: only its author sees it before it is sent."""
    from cradle.updates.models import Update

    units = staff_unit_ids(user, Role.NURSE)
    return _get(
        Update.objects.select_related("admission"),
        update_id,
        author=user,
        sent_at__isnull=True,
        admission__unit_id__in=units,
        admission__discharged_at__isnull=True,
    )
