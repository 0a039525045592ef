"""Answering while the database is out: a 503 that says to try again, never a 500 or a traceback.

During a database outage (unreachable, read-only, disk full) every request that needs it fails. The viewer gets a 503
with Retry-After, and nothing is served: media needs its audit event written first, so no picture leaves without
one. The page is rendered without the database (no user, no navigation). The log gets one line when the outage
starts and one when it ends (cradle.outage), not one traceback per request.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.views import defaults

from cradle.outage import StateLog

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
state = StateLog(log, "the database (web requests)")

_MEDIA_SUFFIXES = (".m3u8", ".ts", ".key", ".json", ".csv", ".pdf")


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler for an uncaught exception, wherever it was raised (a view or a middleware): a database
    error is an outage (503, logged once); anything else is the usual 500."""
    error = sys.exc_info()[1]
    if isinstance(error, DatabaseError):
        state.failed(error)
        return unavailable(request)
    return defaults.server_error(request)


class DatabaseOutageMiddleware:
    """Notes the end of an outage: the first request answered without a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if state.down and response.status_code < 500:
            state.ok()
        return response


class QuietOutages(logging.Filter):
    """Keeps Django's per-request error log free of database outages, which `state` logs once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("django.request"):
            return True
        if getattr(record, "status_code", None) == 503:
            return False  # a deliberate answer (an outage, or /readyz saying a check failed), not an error
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DatabaseError)


def unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 answer: plain text for players and downloads, a small page for people."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.path.endswith(_MEDIA_SUFFIXES) or request.path.startswith(("/v/", "/api/")):
        return HttpResponse("Unavailable", status=503, content_type="text/plain", headers=headers)
    body = render_to_string("503.html", {"LANGUAGE_CODE": get_language()})
    return HttpResponse(body, status=503, headers=headers)
