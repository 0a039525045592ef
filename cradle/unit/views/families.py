"""The family's pages: the baby's page with its player and clips, consent, and the parents' family page (inviting and
revoking relatives, the nickname)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import lifecycle, scope
from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit import anomaly
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit.forms import NicknameForm, WithdrawEverythingForm
from cradle.unit.models import FamilyMembership
from cradle.unit.views.slips import issue_invitation, slip_language
from cradle.viewing import delivery, keepsake_pages, states


@login_required
def baby(request: SignedInRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_watchable_admission(request.user, admission_id)
    second_step = scope.second_step_standing(request.user, admission)
    if second_step.refused:
        # In scope, but no picture until a second sign-in step is added: the page says how, and plays nothing.
        record(request, Action.BABY_VIEW, admission=admission, outcome="denied", reason=scope.SECOND_STEP_NEEDED)
    else:
        record(request, Action.BABY_VIEW, admission=admission)
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
        record(request, Action.ADMISSION_NICKNAME_CHANGED, admission=admission)
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
    language = slip_language(request.POST.get("language"))
    return issue_invitation(request, admission, FamilyMembership.Role.RELATIVE, "family", admission.pk, language)


@login_required
@require_POST
def revoke_relative(request: SignedInRequest, membership_id: int) -> HttpResponse:
    membership = scope.get_family_member_for_parent(request.user, membership_id)
    _revoke(request, membership)
    messages.success(request, _("%(name)s can no longer watch.") % {"name": membership.user.display_name})
    return redirect("family", admission_id=membership.admission_id)


def _revoke(request: SignedInRequest, membership: FamilyMembership) -> None:
    FamilyMembership.objects.filter(pk=membership.pk).update(revoked_at=timezone.now())
    ended = sessions.end_all(membership.user, DeviceSession.EndReason.ACCESS_ENDED)
    record(
        request,
        Action.FAMILY_REVOKED,
        admission=membership.admission,
        member=membership.user_id,
        role=membership.role,
        sessions_ended=ended,
    )
