"""What Cradle reads from a request beyond Django's own: the address the person connects from.

Sign-in throttling, device sessions, the audit log and the fast media path all need the same answer, so it is read
here once, by the one rule below, and nowhere else.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The person's address: behind the hospital's reverse proxy (CRADLE_HTTPS), the last X-Forwarded-For entry, the
    one the proxy added; X-Forwarded-For is trusted only when so configured. Otherwise the connection's address."""
    if getattr(settings, "HTTPS", False) and (fwd := request.META.get("HTTP_X_FORWARDED_FOR")):
        return fwd.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None
