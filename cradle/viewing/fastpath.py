"""The fast path of media fetches: a family viewer's player asks for a segment every second and reloads its playlist
as often, and running the whole authorisation (session, account, device session, scope, staff checks) for each of
them is what limits how many viewers an app server can carry.

This middleware comes first. A segment, live playlist, key or player state check whose session holds a grant
(cradle.viewing.grants: left by the full path, dropped by anything that could take the right away) is answered here,
through the same functions as the full path (cradle.viewing.answer), with the same audit event and the headers the
full path's answers carry. The routes are found by resolving the address against the URL configuration and matching
the view it names, so an address that changes in urls.py changes here too.

Anything unusual (no grant, an expired or foreign address, a segment not seen yet, the database unreachable, an
unreadable copy) falls through to the full path, which answers and audits as it always did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from cradle import metrics
from cradle.audit import batch
from cradle.audit.actions import Action
from cradle.media.store import StoreError
from cradle.outage import StateLog
from cradle.request import CradleRequest, client_ip
from cradle.viewing import answer, delivery, grants, views
from cradle.viewing.grants import STATUS, GrantCache

log = logging.getLogger(__name__)

# The views whose fetches the fast path may answer, and the kind of answer each gives.
KINDS: dict[Callable, str] = {
    views.segment: "segment",
    views.segment_key: "key",
    views.live_playlist: "playlist",
    views.live_status: "status",
}

Answered = tuple[HttpResponse | None, str]


def kind_of(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    """Which kind of media fetch this request is ("" for any other request), and the route's arguments."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return "", {}
    return KINDS.get(match.func, ""), match.kwargs


class FastSegmentMiddleware:
    """First in the middleware list: answers a granted segment, live playlist, key or state check before sessions,
    accounts and the rest are loaded; and learns, from the full path's answers, the headers each kind carries."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.grants: GrantCache = grants.cache()
        self.outage = StateLog(log, "the fast path (taking the full path meanwhile)")

    def __call__(self, request: CradleRequest) -> HttpResponse:
        kind, kwargs = kind_of(request) if request.method == "GET" else ("", {})
        if kind and grants.enabled():
            try:
                response = self.serve(request, kind, kwargs)
            except batch.AuditUnavailable:
                raise  # nothing may be served: the full path could not audit it either (a 503)
            except DatabaseError as e:
                self.outage.failed(e)  # one line when it starts, not one per fetch
                response = None
            if response is not None:
                if self.outage.down:
                    self.outage.ok()
                return response
        # Revocations read from here on may concern a grant this request leaves (cradle.viewing.grants.remember).
        request.grant_mark = self.grants.mark()
        response = self.get_response(request)
        if kind:
            self.grants.learn(kind, response)
        return response

    def serve(self, request: HttpRequest, kind: str, kwargs: dict[str, Any]) -> HttpResponse | None:
        """The answer to a granted fetch, or None for the full path to answer."""
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            response, outcome = None, "signed_out"
        elif self.grants.headers(kind) is None:
            response, outcome = None, "starting"
        else:
            handler = getattr(self, f"_{kind}")
            response, outcome = handler(request, session_key, **kwargs)
            if response is not None:
                self._finish(kind, response)
        metrics.FAST_PATH.labels(kind, outcome).inc()
        return response

    def _finish(self, kind: str, response: HttpResponse) -> None:
        """The headers the full path's answer of this kind carries (those of the middleware after this one too),
        around what this answer says of itself."""
        own = {name: response[name] for name in ("X-Accel-Redirect", "Content-Language") if name in response}
        for name, value in (self.grants.headers(kind) or {}).items():
            response[name] = value
        response["Content-Length"] = str(len(response.content))
        if kind in ("playlist", "status"):
            add_never_cache_headers(response)  # as the full path's never_cache does, Expires included
        for name, value in own.items():
            response[name] = value

    def _segment(self, request: HttpRequest, session_key: str, token: str) -> Answered:
        ticket = delivery.open_ticket(token)
        if ticket is None or ticket.expires < time.time():
            return None, "bad_address"
        row = self.grants.segment(ticket.segment_id, ticket.clip_id)
        if row is None:
            return None, "unseen_segment"
        if not ticket.clip_id and row.created + settings.CRADLE.live_buffer_seconds < time.time():
            return None, "gone"  # past the live buffer, as the full path will say
        grant, why = self.grants.granted(session_key, row.admission_id, ticket.clip_id, ticket.device_id)
        if grant is None:
            return None, why
        try:
            response = answer.segment(request, grant.viewer, grant.picture, row, ticket.clip_id, self.grants.variant)
        except StoreError:
            return None, "unreadable"
        return response, "served"

    def _playlist(self, request: HttpRequest, session_key: str, admission_id: int) -> Answered:
        grant, why = self.grants.granted(session_key, admission_id, 0, None)
        if grant is None:
            return None, why
        # The bulk-access rules (cradle.audit.anomaly) look at new sessions and new addresses, which the full path
        # checks; a reload of the same session from the same address cannot break one.
        if client_ip(request) != grant.ip:
            return None, "new_address"
        segments = self.grants.newest(grant.picture)
        answer.audit_live_playlist(request, grant.viewer, grant.picture, segments, at_once=False)
        body = self.grants.playlist(
            grant.viewer, segments, lambda: delivery.live_playlist(grant.viewer, segments).encode()
        )
        return answer.live_playlist(grant.viewer, segments, body), "served"

    def _key(self, request: HttpRequest, session_key: str, token: str) -> Answered:
        ticket = delivery.open_key_ticket(token)
        if ticket is None or ticket.expires < time.time():
            return None, "bad_address"
        grant, why = self.grants.granted(session_key, ticket.admission_id, ticket.clip_id, ticket.device_id)
        if grant is None:
            return None, why
        try:
            response = answer.key(request, grant.viewer, grant.picture, ticket, at_once=False)
        except StoreError:
            return None, "unreadable"
        return response, "served"

    def _status(self, request: HttpRequest, session_key: str, admission_id: int) -> Answered:
        """A player's state check (cradle.viewing.states) under a grant: whatever could end the family's right to
        the picture revokes the grant, so only the camera and the newest segment are left to read, in the reader's
        language and time zone; audited as the full path does."""
        from cradle.unit.models import Camera
        from cradle.viewing import states
        from cradle.web import zone

        grant, why = self.grants.granted(session_key, admission_id, STATUS, None)
        if grant is None:
            return None, why
        language = translation.get_language_from_request(request)
        chosen = zone.zone(request.COOKIES.get(zone.COOKIE, ""))
        with translation.override(language), timezone.override(chosen) if chosen else contextlib.nullcontext():
            state = states.of_camera(admission_id, Camera.objects.filter(bed_id=grant.picture.bed_id).first())
            body = json.dumps(state.as_json()).encode()
        first_of = f"status:{admission_id}"
        answer.audit(request, grant.viewer, grant.picture, Action.BABY_STATUS, first_of=first_of, state=state.code)
        response = HttpResponse(body, content_type="application/json", headers=answer.NO_STORE)
        response["Content-Language"] = language
        return response, "served"
