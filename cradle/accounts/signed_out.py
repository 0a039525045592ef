"""Why this browser was signed out, so that the page it lands on can say so instead of a bare sign-in form.

A session ended elsewhere (another device, the unit, a discharge) is deleted with its data, so the next request
arrives with a cookie that opens nothing. The device row keeps the session key and the reason, and that cookie is
proof enough to be told the reason (nothing else: no name, no baby). The reason is then kept in a signed cookie of
its own for a week, because the stale session cookie is dropped by the first answer and a parent reloads later.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from cradle.accounts.models import DeviceSession

COOKIE = "cradle_signed_out"
_SALT = "cradle.signed-out"
_KEEP_SECONDS = 7 * 24 * 3600
Reason = DeviceSession.EndReason


def from_request(request: HttpRequest) -> str:
    """The reason this signed-out browser's last session ended, or "" when there is none to tell."""
    stale = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if stale and request.session.is_empty():
        reason = (
            DeviceSession.objects.filter(session_key=stale, ended_at__isnull=False)
            .values_list("end_reason", flat=True)
            .first()
        )
        if reason:
            return reason
    kept = request.get_signed_cookie(COOKIE, default="", salt=_SALT, max_age=_KEEP_SECONDS)
    return kept if kept in Reason.values else ""


def keep(request: HttpRequest, response: HttpResponse) -> None:
    """Remembers `request.signed_out_reason` for the pages that follow; forgets it once the person is signed in."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        if COOKIE in request.COOKIES:
            response.delete_cookie(COOKIE, samesite="Lax")
        return
    reason = getattr(request, "signed_out_reason", "")
    if reason and reason != Reason.LOGOUT:
        response.set_signed_cookie(
            COOKIE,
            reason,
            salt=_SALT,
            max_age=_KEEP_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def words(reason: str) -> tuple[str, str]:
    """A title and one or two sentences on why the person was signed out and what to do now."""
    if reason == Reason.DISCHARGED:
        return _("Your baby has been discharged"), _(
            "Your baby has gone home or moved to another hospital, so Cradle signed you out. Sign in again to "
            "watch and save your clips while they are kept."
        )
    if reason == Reason.ACCESS_ENDED:
        return _("Your access has ended"), _(
            "This account can no longer see this baby. If you think this is a mistake, please ask the parents or "
            "the nurses."
        )
    if reason == Reason.BY_USER:
        return _("Signed out from another device"), _(
            "This phone or computer was signed out from another of your devices. If that was not you, sign in "
            "and change your password."
        )
    if reason == Reason.BY_STAFF:
        return _("Signed out by the unit"), _(
            "The unit's staff signed you out on all your devices. Sign in again, or ask the nurses if you are not "
            "sure why."
        )
    if reason == Reason.IDLE:
        return _("Signed out after a quiet spell"), _(
            "You were signed out after a while without use, so that nobody else can watch on this device. Sign in "
            "again to go on."
        )
    if reason == Reason.LIFETIME:
        return _("Please sign in again"), _(
            "You had been signed in for many hours, so Cradle signed you out. Sign in again to go on."
        )
    if reason == Reason.SUSPENDED:
        return _("Your account is paused"), _("Your account has been paused for a check. Please ask the nurses.")
    return _("You are signed out"), _("Sign in to see your baby.")
