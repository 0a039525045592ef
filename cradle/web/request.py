"""The request as Cradle's views see it: what the middleware adds to Django's, typed for the type checker.

Django types `request.user` as "a user or anonymous" and knows nothing of the attributes Cradle's middleware sets.
A view that only runs for a signed-in person (behind `login_required` or a role check) takes a `SignedInRequest`;
nothing is checked or converted at run time, these are the same objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from cradle.accounts.models import DeviceSession, User


class CradleRequest(HttpRequest):
    """Any request after the middleware of cradle.accounts."""

    # The signed-in device's session (cradle.accounts.middleware), or None when no one is signed in.
    device_session: DeviceSession | None
    # Why the last session on this browser ended, when it was ended for the person ("" otherwise).
    signed_out_reason: str
    # Private to the modules that set them: the fast path's place in its revocation history (cradle.viewing.fastpath),
    # and the device cookie to send back (cradle.accounts.throttle).
    _fast_path_mark: int
    _cradle_device_cookie: str


class SignedInRequest(CradleRequest):
    """A request of a signed-in person: the views behind login_required or a role check."""

    user: User
    device_session: DeviceSession
