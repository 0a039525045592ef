"""The request as Cradle's views see it, and what Cradle reads from it beyond Django's own.

Django types `request.user` as "a user or anonymous" and knows nothing of the attributes Cradle's middleware sets.
A view that only runs for a signed-in person (behind `login_required` or a role check) takes a `SignedInRequest`;
nothing is checked or converted at run time, these are the same objects.

The address the person connects from: sign-in throttling, device sessions, the audit log and the fast media path all
need the same answer, so it is read here once, by the one rule in `client_ip`, and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from cradle.accounts.models import DeviceSession, User


class CradleRequest(HttpRequest):
    """Any request after the middleware of cradle.accounts."""

    # The signed-in device's session (cradle.accounts.middleware), or None when no one is signed in.
    device_session: DeviceSession | None
    # Why the last session on this browser ended, when it was ended for the person ("" otherwise).
    signed_out_reason: str
    # Private to the modules that set them: the fast path's place in its revocation history (cradle.viewing.grants),
    # and the device cookie to send back (cradle.accounts.throttle).
    grant_mark: int
    _cradle_device_cookie: str


class SignedInRequest(CradleRequest):
    """A request of a signed-in person: the views behind login_required or a role check."""

    user: User
    device_session: DeviceSession


def client_ip(request: HttpRequest) -> str | None:
    """The person's address: behind the hospital's reverse proxy (CRADLE_HTTPS), the last X-Forwarded-For entry, the
    one the proxy added; X-Forwarded-For is trusted only when so configured. Otherwise the connection's address."""
    if getattr(settings, "HTTPS", False) and (fwd := request.META.get("HTTP_X_FORWARDED_FOR")):
        return fwd.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None
