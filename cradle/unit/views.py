"""The nurse's board and bed pages, the family pages, break-glass and unit settings."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.accounts.reauth import reauthentication_required
from cradle.audit import anomaly
from cradle.audit.log import alert_privacy_officers, record
from cradle.audit.models import Alert
from cradle.retention import service as lifecycle
from cradle.unit import invitations
from cradle.unit.forms import (
    AdmitForm,
    BreakGlassForm,
    DailyClipForm,
    InviteForm,
    NicknameForm,
    PauseForm,
    TransferForm,
    UnitSettingsForm,
    WithdrawEverythingForm,
)
from cradle.unit.models import (
    Admission,
    BreakGlassGrant,
    Camera,
    FamilyMembership,
    Invitation,
    Unit,
    inpatient_digest,
)
from cradle.viewing import clips, delivery, keepsake_pages, states
from cradle.web.request import SignedInRequest

_SLIPS = "cradle_slips"


# --- Family -----------------------------------------------------------------------------------------------------


@login_required
def baby(request: SignedInRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_watchable_admission(request.user, admission_id)
    second_step = scope.second_step_standing(request.user, admission)
    if second_step.refused:
        # In scope, but no picture until a second sign-in step is added: the page says how, and plays nothing.
        record(request, "baby.view", admission=admission, outcome="denied", reason=scope.SECOND_STEP_NEEDED)
    else:
        record(request, "baby.view", admission=admission)
    if anomaly.check(request, admission):
        raise Http404
    membership = (
        FamilyMembership.objects.filter(user=request.user, admission=admission, revoked_at__isnull=True).first()
        if admission.pk in scope.family_admission_ids(request.user)
        else None
    )
    camera = getattr(admission.bed, "camera", None)
    device = getattr(request, "device_session", None)
    return render(
        request,
        "unit/baby.html",
        {
            "admission": admission,
            "membership": membership,
            "camera": camera,
            "live": scope.live_allowed(admission),
            "state": states.of_admission(admission, camera),
            "ended": states.ended(),
            "keepsakes": keepsake_pages.notices(request.user, admission),
            "viewer_code": delivery.viewer_code(device) if device else "",
            "clips": admission.clips.all()[:50],
            "second_step": second_step,
        },
    )


@login_required
def consent(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """The parents' consent: stop live viewing, or withdraw everything; each asks for a confirmation first, since
    neither can be undone."""
    admission = scope.get_consenting_parent_admission(request.user, admission_id)
    form = WithdrawEverythingForm(request.POST or None)
    if request.method == "POST" and request.POST.get("withdraw") == "live":
        if request.POST.get("confirm") != "yes":
            # It cannot be undone: the first tap only asks again, in words that say so.
            return render(request, "unit/consent_stop_live.html", {"admission": admission})
        lifecycle.withdraw_live(admission, request=request)
        messages.success(request, _("Live viewing has stopped for your baby. The clips already kept stay."))
        return redirect("baby", admission_id=admission.pk)
    if request.method == "POST" and request.POST.get("withdraw") == "everything":
        if form.is_valid():
            lifecycle.withdraw_everything(admission, request=request)
            # The family's sessions, this one included, have ended: the parent is signed out.
            return redirect("consent_withdrawn")
        messages.error(request, _("Tick the box to confirm that every video of your baby will be destroyed."))
    return render(request, "unit/consent.html", {"admission": admission, "form": form})


def consent_withdrawn(request: HttpRequest) -> HttpResponse:
    """Where a parent lands after withdrawing everything; says what happened and nothing about whom."""
    return render(request, "unit/consent_withdrawn.html")


@login_required
def family(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """The parents' page: who is in the family, inviting and revoking relatives, the nickname."""
    admission = scope.get_parent_admission(request.user, admission_id)
    form = NicknameForm(request.POST or None, initial={"nickname": admission.nickname})
    if request.method == "POST" and form.is_valid():
        admission.nickname = form.cleaned_data["nickname"].strip()
        admission.save(update_fields=["nickname"])
        record(request, "admission.nickname_changed", admission=admission)
        messages.success(request, _("The nickname has been saved."))
        return redirect("family", admission_id=admission.pk)
    members = admission.family.filter(revoked_at__isnull=True).select_related("user").order_by("role", "created_at")
    open_invitations = [i for i in admission.invitations.filter(role=FamilyMembership.Role.RELATIVE) if i.is_open]
    return render(
        request,
        "unit/family.html",
        {
            "admission": admission,
            "members": members,
            "open_invitations": open_invitations,
            "form": form,
            "cap": admission.unit.relative_cap,
        },
    )


@login_required
@require_POST
def family_invite(request: SignedInRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_parent_admission(request.user, admission_id)
    language = _slip_language(request.POST.get("language"))
    return _issue(request, admission, FamilyMembership.Role.RELATIVE, "family", admission.pk, language)


@login_required
@require_POST
def revoke_relative(request: SignedInRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_parent(request.user, membership_id)
    _revoke(request, membership)
    messages.success(request, _("%(name)s can no longer watch.") % {"name": membership.user.display_name})
    return redirect("family", admission_id=membership.admission_id)


def _revoke(request: HttpRequest, membership: FamilyMembership) -> None:
    FamilyMembership.objects.filter(pk=membership.pk).update(revoked_at=timezone.now())
    ended = sessions.end_all(membership.user, DeviceSession.EndReason.ACCESS_ENDED)
    record(
        request,
        "family.revoked",
        admission=membership.admission,
        member=membership.user_id,
        role=membership.role,
        sessions_ended=ended,
    )


# --- Nurses -----------------------------------------------------------------------------------------------------


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
        with transaction.atomic():
            Admission.objects.create(
                unit=bed.unit,
                bed=bed,
                nickname=form.cleaned_data["nickname"].strip(),
                inpatient_digest=inpatient_digest(number) if number else "",
                admitted_by=request.user,
            )
    except IntegrityError:
        messages.error(request, _("This bed already has a baby admitted."))
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
    return _issue(request, admission, form.cleaned_data["role"], "bed", admission.bed_id, language)


def _issue(
    request: SignedInRequest, admission: Admission, role: str, back: str, back_id: int, language: str = ""
) -> HttpResponse:
    try:
        invitation, code = invitations.issue(admission, role, request.user)
    except invitations.InvitationError as e:
        messages.error(request, str(e))
        return redirect(back, back_id)
    record(request, "invitation.issued", admission=admission, invitation=invitation.pk, role=role)
    # The code is never stored; this session keeps it only so that the slip can be printed again.
    slips = request.session.get(_SLIPS, {})
    slips[str(invitation.pk)] = code
    request.session[_SLIPS] = slips
    slip = reverse("invitation_slip", args=[invitation.pk])
    return redirect(f"{slip}?lang={_slip_language(language or translation.get_language())}")


def _slip_language(code: str | None) -> str:
    """One of Cradle's languages: the one asked for if Cradle speaks it, else the reader's."""
    known = dict(settings.LANGUAGES)
    return code if code in known else (translation.get_language() if translation.get_language() in known else "en")


@login_required
def invitation_slip(request: SignedInRequest, invitation_id: int) -> HttpResponse:
    """The slip to print, share or copy, in the family's language (`?lang=`); the code is shown only to the session
    that issued it, and never in a form that wraps inside a group."""
    invitation = scope.get_invitation(request.user, invitation_id)
    code = request.session.get(_SLIPS, {}).get(str(invitation.pk)) if invitation.is_open else None
    language = _slip_language(request.GET.get("lang"))
    # The family's first page speaks their language too.
    join_url = request.build_absolute_uri(reverse("join")) + f"?lang={language}"
    qr = share = None
    if code:
        import segno

        # The code travels in the fragment, which browsers never send to a server or write to its logs.
        qr = segno.make(f"{join_url}#{code}", error="m").svg_inline(scale=5, dark="#000", light="#fff")
        with translation.override(language):
            until = formats.date_format(timezone.localtime(invitation.expires_at), "DATETIME_FORMAT")
            share = {
                "title": _("Your invitation to Cradle"),
                "text": _(
                    "You are invited to watch a baby in the neonatal unit with Cradle. Open the link, or open "
                    "%(address)s and type the code %(code)s. It works once, until %(until)s. Please keep it private."
                )
                % {"address": join_url, "code": code, "until": until},
                "url": f"{join_url}#{code}",
            }
    back = "bed" if scope.is_staff(request.user, scope.Role.NURSE) else "family"
    back_id = invitation.admission.bed_id if back == "bed" else invitation.admission_id
    return render(
        request,
        "unit/slip.html",
        {
            "invitation": invitation,
            "code": code,
            "groups": code.split("-") if code else [],
            "qr": qr,
            "join_url": join_url,
            "share": share,
            "slip_language": language,
            "back": back,
            "back_id": back_id,
        },
    )


@login_required
@require_POST
def revoke_invitation(request: SignedInRequest, invitation_id: int) -> HttpResponse:
    invitation = scope.get_invitation(request.user, invitation_id)
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record(request, "invitation.revoked", admission=invitation.admission, invitation=invitation.pk)
    messages.success(request, _("The invitation has been revoked."))
    if scope.is_staff(request.user, scope.Role.NURSE):
        return redirect("bed", bed_id=invitation.admission.bed_id)
    return redirect("family", admission_id=invitation.admission_id)


@login_required
@require_POST
def end_member_sessions(request: SignedInRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_nurse(request.user, membership_id)
    ended = sessions.end_all(membership.user, DeviceSession.EndReason.BY_STAFF)
    record(
        request,
        "family.sessions_ended",
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
            "camera.paused",
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
    record(request, "camera.resumed", unit=camera.at_bed.unit_id, bed=camera.at_bed.label)
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
            "camera.daily_clip_set",
            unit=camera.at_bed.unit_id,
            bed=camera.at_bed.label,
            at=str(form.cleaned_data["at"] or ""),
        )
        messages.success(request, _("Daily clip saved."))
    else:
        messages.error(request, _("Enter a time such as 18:30, or leave it empty for no daily clip."))
    return redirect("bed", bed_id=camera.bed_id)


def _back_to(request: HttpRequest, camera: Camera) -> HttpResponse:
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
    record(request, "family.contact_revealed", admission=membership.admission, member=membership.user_id)
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
        record(request, "break_glass.granted", unit=unit, reason=grant.reason, minutes=minutes)
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


# --- Administrators ---------------------------------------------------------------------------------------------


@login_required
def unit_settings(request: SignedInRequest, unit_id: int) -> HttpResponse:
    return _unit_settings(request, scope.get_administered_unit(request.user, unit_id))


@reauthentication_required
def _unit_settings(request: HttpRequest, unit: Unit) -> HttpResponse:
    form = UnitSettingsForm(request.POST or None, instance=unit)
    if request.method == "POST" and form.is_valid():
        form.save()
        record(
            request,
            "unit.settings_changed",
            unit=unit,
            **{f: form.cleaned_data[f] for f in form.changed_data},
        )
        messages.success(request, _("Settings saved. New sign-ins use them."))
        return redirect("unit_settings", unit_id=unit.pk)
    grace = unit.second_step_grace_until
    running = unit.family_second_step and grace is not None and grace > timezone.now()
    return render(request, "unit/settings.html", {"unit": unit, "form": form, "second_step_grace": running and grace})
