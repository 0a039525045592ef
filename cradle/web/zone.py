"""Times in the viewer's own time zone, the one their phone shows next to the overlay's clock.

The browser names its zone in a cookie (cradle/static/cradle/app.js); an unknown or malformed name is ignored and
the server's zone (CRADLE_TIME_ZONE) is used, as on a first visit before the cookie exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "cradle_tz"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo | None:
    """The zone called `name` (an IANA name such as Asia/Shanghai), or None."""
    if len(name) > 64 or not _NAME.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class TimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = zone(request.COOKIES.get(COOKIE, ""))
        if chosen is None:
            timezone.deactivate()
        else:
            timezone.activate(chosen)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
