"""The nurse's pages: the bed page, admitting, inviting the parents, cameras (pause, daily clip), discharge and
transfer, a family member's contact, and break-glass access to another unit."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cradle import lifecycle, scope
from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.accounts.reauth import reauthentication_required
from cradle.audit.actions import Action
from cradle.audit.log import alert_privacy_officers, record
from cradle.audit.models import Alert
from cradle.request import SignedInRequest
from cradle.unit.forms import AdmitForm, BreakGlassForm, DailyClipForm, InviteForm, PauseForm, TransferForm
from cradle.unit.models import BreakGlassGrant, Camera, Unit, inpatient_digest
from cradle.unit.views.slips import issue_invitation
from cradle.viewing import clips, delivery, states


@login_required
def units(request: SignedInRequest) -> HttpResponse:
    """Every unit, for a nurse who needs emergency access to one that is not theirs."""
    if not scope.is_staff(request.user, scope.Role.NURSE):
        raise Http404
    own = scope.staff_unit_ids(request.user, scope.Role.NURSE)
    return render(request, "unit/units.html", {"units": Unit.objects.order_by("name"), "own": own})


@login_required
def bed(request: SignedInRequest, bed_id: int) -> HttpResponse:
    bed = scope.get_nursed_bed(request.user, bed_id)
    admission = bed.current_admission
    camera = getattr(bed, "camera", None)
    context = {
        "bed": bed,
        "camera": camera,
        "admission": admission,
        "pause_form": PauseForm(),
        # What the family sees now, in their words: the nurse's badge never says live over a screen.
        "picture": states.of_admission(admission, camera) if admission is not None and camera is not None else None,
    }
    if admission is None:
        context["admit_form"] = AdmitForm()
    else:
        members = (
            admission.family.filter(revoked_at__isnull=True)
            .select_related("user")
            .annotate(online=Count("user__device_sessions", filter=Q(user__device_sessions__ended_at__isnull=True)))
        )
        device = getattr(request, "device_session", None)
        context.update(
            # The family's own player, fed the same segments through this nurse's session: marked with its variant,
            # audited like any view, and in the state the family sees.
            watch=camera is not None and device is not None and not scope.media_refusal(request.user, admission),
            state=context["picture"],
            ended=states.ended(),
            viewer_code=delivery.viewer_code(device) if device else "",
            daily_form=DailyClipForm(initial={"at": getattr(context["camera"], "daily_clip_at", None)}),
            clip_seconds=clips.CLIP_SECONDS,
            clip_available=clips.available_seconds(admission),
            recent_clips=admission.clips.all()[:5],
            members=members,
            invite_form=InviteForm(),
            open_invitations=[i for i in admission.invitations.all() if i.is_open],
        )
    return render(request, "unit/bed.html", context)


@login_required
@require_POST
def admit(request: SignedInRequest, bed_id: int) -> HttpResponse:
    bed = scope.get_nursed_bed(request.user, bed_id)
    form = AdmitForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please check the form."))
        return redirect("bed", bed_id=bed.pk)
    number = form.cleaned_data["inpatient_number"].strip()
    try:
        lifecycle.admit(
            bed,
            nickname=form.cleaned_data["nickname"].strip(),
            inpatient_digest=inpatient_digest(number) if number else "",
            by=request.user,
        )
    except lifecycle.AdmitError as e:
        messages.error(request, str(e))
        return redirect("bed", bed_id=bed.pk)
    # The admission's creation is audited by cradle.audit.creation, in this request's name.
    messages.success(request, _("Admitted. Now invite the parents."))
    return redirect("bed", bed_id=bed.pk)


@login_required
@require_POST
def invite(request: SignedInRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_nursed_admission(request.user, admission_id)
    form = InviteForm(request.POST)
    if not form.is_valid():
        raise Http404
    language = form.cleaned_data["language"] or translation.get_language()
    return issue_invitation(request, admission, form.cleaned_data["role"], "bed", admission.bed_id, language)


@login_required
@require_POST
def end_member_sessions(request: SignedInRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_nurse(request.user, membership_id)
    ended = sessions.end_all(membership.user, DeviceSession.EndReason.BY_STAFF)
    record(
        request,
        Action.FAMILY_SESSIONS_ENDED,
        admission=membership.admission,
        member=membership.user_id,
        count=ended,
    )
    messages.success(request, _("%(name)s has been signed out everywhere.") % {"name": membership.user.display_name})
    return redirect("bed", bed_id=membership.admission.bed_id)


@login_required
@require_POST
def pause_camera(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """Nurse privacy mode: one tap, a reason, and the camera resumes by itself after 10, 20 or 30 minutes."""
    camera = scope.get_nursed_camera(request.user, camera_id)
    form = PauseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a reason and how long to pause."))
    else:
        minutes = form.cleaned_data["minutes"]
        until = timezone.now() + timedelta(minutes=minutes)
        Camera.objects.filter(pk=camera.pk).update(paused_until=until, pause_reason=form.cleaned_data["reason"])
        record(
            request,
            Action.CAMERA_PAUSED,
            unit=camera.at_bed.unit_id,
            bed=camera.at_bed.label,
            reason=form.cleaned_data["reason"],
            minutes=minutes,
        )
        messages.success(
            request,
            _("Camera at bed %(bed)s paused for %(minutes)d minutes.")
            % {"bed": camera.at_bed.label, "minutes": minutes},
        )
    return _back_to(request, camera)


@login_required
@require_POST
def resume_camera(request: SignedInRequest, camera_id: int) -> HttpResponse:
    camera = scope.get_nursed_camera(request.user, camera_id)
    Camera.objects.filter(pk=camera.pk).update(paused_until=None, pause_reason="")
    record(request, Action.CAMERA_RESUMED, unit=camera.at_bed.unit_id, bed=camera.at_bed.label)
    messages.success(request, _("Camera at bed %(bed)s is on again.") % {"bed": camera.at_bed.label})
    return _back_to(request, camera)


@login_required
@require_POST
def daily_clip(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """Sets (or clears, with an empty time) the time of day at which a clip is kept for the family."""
    camera = scope.get_nursed_camera(request.user, camera_id)
    form = DailyClipForm(request.POST)
    if form.is_valid():
        Camera.objects.filter(pk=camera.pk).update(daily_clip_at=form.cleaned_data["at"])
        record(
            request,
            Action.CAMERA_DAILY_CLIP_SET,
            unit=camera.at_bed.unit_id,
            bed=camera.at_bed.label,
            at=str(form.cleaned_data["at"] or ""),
        )
        messages.success(request, _("Daily clip saved."))
    else:
        messages.error(request, _("Enter a time such as 18:30, or leave it empty for no daily clip."))
    return redirect("bed", bed_id=camera.bed_id)


def _back_to(request: SignedInRequest, camera: Camera) -> HttpResponse:
    if request.POST.get("from") == "bed":
        return redirect("bed", bed_id=camera.bed_id)
    return redirect("board", unit_id=camera.at_bed.unit_id)


@login_required
def discharge(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """Ends the admission: sessions end at once, the camera stops, the bed is free; clips stay for the grace period."""
    admission = scope.get_nursed_admission(request.user, admission_id)
    if request.method != "POST":
        return render(request, "unit/discharge.html", {"admission": admission, "grace_days": admission.unit.grace_days})
    lifecycle.discharge(admission, request=request)
    days = admission.unit.grace_days
    messages.success(
        request,
        ngettext(
            "Discharged. The family was signed out; they can watch their clips for %(days)d day.",
            "Discharged. The family was signed out; they can watch their clips for %(days)d days.",
            days,
        )
        % {"days": days},
    )
    return redirect("board", unit_id=admission.unit_id)


@login_required
def transfer(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """Moves the baby to a free bed of another unit; the family keeps watching without signing in again."""
    admission = scope.get_nursed_admission(request.user, admission_id)
    form = TransferForm(admission, request.POST or None)
    if request.method == "POST" and form.is_valid():
        back_to = admission.unit_id  # the nurse's own board; the baby's is now another unit's
        try:
            lifecycle.transfer(admission, form.cleaned_data["bed"], request=request)
        except lifecycle.TransferError as e:
            messages.error(request, str(e))
        else:
            messages.success(
                request,
                _("Transferred to %(unit)s, bed %(bed)s. The family keeps its access.")
                % {"unit": form.cleaned_data["bed"].unit.name, "bed": form.cleaned_data["bed"].label},
            )
            return redirect("board", unit_id=back_to)
    return render(request, "unit/transfer.html", {"admission": admission, "form": form})


@login_required
@require_POST
def reveal_contact(request: SignedInRequest, membership_id: int) -> HttpResponse:
    """Shows one family member's e-mail address and phone number to a nurse of their baby's unit; audited."""
    membership = scope.get_family_contact_for_nurse(request.user, membership_id)
    record(request, Action.FAMILY_CONTACT_REVEALED, admission=membership.admission, member=membership.user_id)
    response = render(
        request,
        "unit/contact.html",
        {"membership": membership, "email": membership.user.email, "phone": membership.user.phone},
    )
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
def break_glass(request: SignedInRequest, unit_id: int) -> HttpResponse:
    """Emergency access to another unit: a typed reason, one hour at most, and the privacy officers are told."""
    if not scope.is_staff(request.user, scope.Role.NURSE):
        raise Http404
    try:
        unit = Unit.objects.get(pk=unit_id)
    except Unit.DoesNotExist as e:
        raise Http404 from e
    return _break_glass(request, unit)


@reauthentication_required
def _break_glass(request: SignedInRequest, unit: Unit) -> HttpResponse:
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        minutes = min(60, settings.CRADLE.break_glass_max_minutes)
        grant = BreakGlassGrant.objects.create(
            user=request.user,
            unit=unit,
            reason=form.cleaned_data["reason"],
            expires_at=timezone.now() + timedelta(minutes=minutes),
        )
        record(request, Action.BREAK_GLASS_GRANTED, unit=unit, reason=grant.reason, minutes=minutes)
        alert_privacy_officers(
            unit.pk,
            Alert.Kind.BREAK_GLASS,
            actor=request.user,
            name=request.user.display_name,
            username=request.user.username,
            unit=unit.name,
            minutes=minutes,
            reason=grant.reason,
        )
        messages.warning(request, _("Emergency access granted for one hour. This has been reported."))
        return redirect("board", unit_id=unit.pk)
    return render(request, "unit/break_glass.html", {"unit": unit, "form": form})
