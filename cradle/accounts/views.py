"""Joining with an invitation code, and the "Your devices" page."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.accounts import agents, second_step, sessions, throttle
from cradle.accounts.forms import CodeForm, DisplayNameForm, NewAccountForm
from cradle.accounts.models import DeviceSession, User
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit import invitations

_PENDING = "cradle_join_invitation"


def _neutral_error() -> str:
    # One message for unknown, used, revoked and expired codes, so that a code's state cannot be probed.
    return _("This code cannot be used. Please check it, or ask the nurse for a new one.")


def join(request: HttpRequest) -> HttpResponse:
    """Step one: the invitation code, typed or from the slip's QR code. A slip names the family's language
    (`?lang=`), so that the joining pages speak it from the first one."""
    language = request.GET.get("lang", "")
    if language in dict(settings.LANGUAGES) and language != translation.get_language():
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = _join(request)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", secure=request.is_secure())
        return response
    return _join(request)


def _join(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not throttle.join_allowed(request):
            record(request, Action.INVITATION_THROTTLED, outcome="denied")
            form.add_error("code", _("Too many attempts from this network. Please wait a quarter of an hour."))
            return render(request, "accounts/join.html", {"form": form})
        invitation = invitations.find_open(form.cleaned_data["code"])
        if invitation is None:
            throttle.join_failed(request)
            record(request, Action.INVITATION_REJECTED, outcome="denied")
            form.add_error("code", _neutral_error())
        elif request.user.is_authenticated:
            if scope.is_staff(request.user):
                form.add_error("code", _("Staff accounts cannot join a family. Sign out first."))
            else:
                membership = invitations.redeem(invitation.pk, request.user)
                if membership is None:
                    form.add_error("code", _neutral_error())
                else:
                    record(request, Action.INVITATION_REDEEMED, admission=membership.admission, role=membership.role)
                    return redirect("baby", admission_id=membership.admission_id)
        else:
            request.session[_PENDING] = invitation.pk
            return redirect("join_account")
    return render(request, "accounts/join.html", {"form": form})


def join_account(request: HttpRequest) -> HttpResponse:
    """Step two: the person's own account; then straight on to a second sign-in step."""
    invitation_id = request.session.get(_PENDING)
    if invitation_id is None:
        return redirect("join")
    form = NewAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = User.objects.create_user(
                form.cleaned_data["username"],
                form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
                email=form.cleaned_data["email"],
                phone=form.cleaned_data["phone"],
            )
            membership = invitations.redeem(invitation_id, user)
            if membership is None:
                transaction.set_rollback(True)
        if membership is None:
            request.session.pop(_PENDING, None)
            messages.error(request, _neutral_error())
            return redirect("join")
        record(request, Action.INVITATION_REDEEMED, admission=membership.admission, actor=user, role=membership.role)
        login(request, user, backend="allauth.account.auth_backends.AuthenticationBackend")
        # The password was just set: count it as this session's authentication, so that adding a second
        # factor does not ask for it again at once.
        record_authentication(request, user, method="password", username=user.username, reauthenticated=True)
        return redirect("mfa_prompt")
    return render(request, "accounts/join_account.html", {"form": form})


@login_required
def mfa_prompt(request: SignedInRequest) -> HttpResponse:
    """Asks a family member to add a second sign-in step, a passkey first where the phone can make one, and says
    whether their unit already requires it (or from when). Joining ends here, so adding one is the next step."""
    memberships = scope.active_family(request.user).select_related("admission__unit")
    standings = [scope.second_step_standing(request.user, m.admission) for m in memberships]
    graces = [s.grace_until for s in standings if s.grace_until is not None]
    return render(
        request,
        "accounts/mfa_prompt.html",
        {
            "has_second_step": second_step.has_second_factor(request.user),
            "required_now": any(s.refused for s in standings),
            "required_from": min(graces, default=None),
        },
    )


@login_required
def devices(request: SignedInRequest) -> HttpResponse:
    active = list(DeviceSession.objects.filter(user=request.user, ended_at__isnull=True).order_by("-last_seen_at"))
    for device in active:
        device.described = agents.describe(device.user_agent)
    return render(
        request,
        "accounts/devices.html",
        {"devices": active, "current": getattr(request.device_session, "pk", None)},
    )


@login_required
@require_POST
def end_device(request: SignedInRequest, public_id: str) -> HttpResponse:
    device = scope.get_own_device_session(request.user, public_id)
    sessions.end(device, DeviceSession.EndReason.BY_USER)
    record(request, Action.ACCOUNT_SESSION_ENDED, ended=device.public_id)
    messages.success(request, _("That device has been signed out."))
    return redirect("devices")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = DisplayNameForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        for field in form.changed_data:
            # Which detail changed, never its value.
            record(
                request,
                Action.ACCOUNT_DISPLAY_NAME_CHANGED if field == "display_name" else Action.ACCOUNT_CONTACT_CHANGED,
                field=field,
            )
        messages.success(request, _("Your details have been saved."))
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
