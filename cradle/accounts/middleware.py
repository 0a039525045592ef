"""Session policy (idle timeout, absolute lifetime, ended sessions) and mandatory MFA for staff."""

from __future__ import annotations

from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle.accounts import second_step, sessions, signed_out, throttle
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import CradleRequest

# A device's last-seen time is written at most this often, so that browsing does not write on every request.
_TOUCH_SECONDS = 30


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: CradleRequest) -> HttpResponse:
        request.device_session = None
        request.signed_out_reason = ""
        if request.user.is_authenticated:
            self._check(request)
        else:
            request.signed_out_reason = signed_out.from_request(request)
        response = self.get_response(request)
        throttle.set_cookie(request, response)
        signed_out.keep(request, response)
        return response

    def _check(self, request: CradleRequest) -> None:
        device = DeviceSession.objects.filter(session_key=request.session.session_key).first()
        reason = None
        if device is None or device.ended_at is not None:
            reason = device.end_reason if device else DeviceSession.EndReason.ACCESS_ENDED
        else:
            reason = sessions.expiry_reason(device)
            if reason:
                sessions.end(device, reason)
                record(request, Action.ACCOUNT_SESSION_EXPIRED, actor=request.user, reason=reason)
        if reason or device is None:  # (no device: a reason was given above)
            logout(request)
            # The page says why (cradle/accounts/signed_out.py), this one and the next ones.
            request.signed_out_reason = reason or DeviceSession.EndReason.ACCESS_ENDED
            return
        now = timezone.now()
        if (now - device.last_seen_at).total_seconds() > _TOUCH_SECONDS:
            DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=now)
            device.last_seen_at = now
        request.device_session = device


# Staff without a second factor may reach only these paths, to enrol one or to leave.
_MFA_ENROLMENT_PATHS = (
    "/accounts/2fa/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/static/",
    "/i18n/",
    "/theme/",
    "/sw.js",
    "/offline/",
)


class StaffMfaMiddleware:
    """Staff must have a second factor of their own, except in a session whose sign-in proved one at the hospital's
    provider (cradle.accounts.second_step.vouched)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path.startswith(_MFA_ENROLMENT_PATHS):
            from cradle.scope import is_staff

            vouched = second_step.vouched(request)
            if not vouched and is_staff(request.user) and not _has_second_factor(request.user):
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": "Staff accounts need a second factor first."}, status=403)
                messages.warning(request, _("Staff accounts must set up a second sign-in step before going on."))
                return redirect("mfa_activate_totp")
        return self.get_response(request)


def _has_second_factor(user) -> bool:
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()
