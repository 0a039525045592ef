"""The live player page, its playlist and the segments: scoped, audited, one variant per session."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from cradle import scope
from cradle.audit.log import record
from cradle.media.store import StoreError
from cradle.viewing import delivery
from cradle.viewing.models import LiveSegment
from cradle.viewing.storage import segment_store

_NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


def _refuse(request: HttpRequest, action: str, reason: str, **detail) -> HttpResponse:
    """A 404 that says nothing, and an audit event that says why."""
    record(request, action, outcome="denied", reason=reason, **detail)
    return HttpResponse("Not found", status=404, content_type="text/plain", headers=_NO_STORE)


@never_cache
def live_playlist(request: HttpRequest, admission_id: int) -> HttpResponse:
    device = getattr(request, "device_session", None)
    if device is None:
        return _refuse(request, "live.playlist", "not signed in", admission=admission_id)
    try:
        admission = scope.get_watchable_admission(request.user, admission_id)
    except Http404:
        return _refuse(request, "live.playlist", "out of scope", admission=admission_id)
    count = settings.CRADLE["LIVE_PLAYLIST_SEGMENTS"]
    newest = LiveSegment.objects.filter(admission=admission, camera__bed=admission.bed).order_by("-index")[:count]
    segments = list(reversed(newest))
    record(request, "live.playlist", admission=admission, segments=[s.index for s in segments[-1:]])
    body = delivery.live_playlist(device, segments)
    return HttpResponse(body, content_type="application/vnd.apple.mpegurl", headers=_NO_STORE)


def segment(request: HttpRequest, token: str) -> HttpResponse:
    ticket = delivery.open_ticket(token)
    if ticket is None:
        return _refuse(request, "live.segment", "bad signature")
    if ticket.expires < time.time():
        return _refuse(request, "live.segment", "expired", segment=ticket.segment_id)
    device = getattr(request, "device_session", None)
    if device is None or device.pk != ticket.device_id:
        return _refuse(request, "live.segment", "another or ended session", segment=ticket.segment_id)
    row = LiveSegment.objects.filter(pk=ticket.segment_id).select_related("camera").first()
    if row is None:
        return _refuse(request, "live.segment", "gone", segment=ticket.segment_id)
    try:
        admission = scope.get_watchable_admission(request.user, row.admission_id)
    except Http404:
        return _refuse(request, "live.segment", "out of scope", admission=row.admission_id, segment=row.index)
    variant = delivery.variant_for(device, row.camera_id, row.index)
    try:
        data = segment_store().get(admission.media_id, str(row.camera_id), row.index, variant)
    except StoreError:
        return _refuse(request, "live.segment", "unreadable", admission=admission.pk, segment=row.index)
    record(request, "live.segment", admission=admission, camera=row.camera_id, segment=row.index, variant=variant)
    return HttpResponse(data, content_type="video/mp2t", headers=_NO_STORE)
