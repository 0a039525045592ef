"""The newest live still of an admission, for the nurse's ward board: the redacted picture families get, in the
variant of the asking session (so it carries that session's mark), audited as a media fetch like a segment."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record, record_fetch
from cradle.media import still
from cradle.media.errors import MediaError
from cradle.media.store import StoreError
from cradle.request import SignedInRequest
from cradle.viewing import delivery
from cradle.viewing.models import LiveSegment
from cradle.viewing.states import FRESH_SECONDS
from cradle.viewing.storage import segment_store

_NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


def _refuse(request: HttpRequest, reason: str, **detail) -> HttpResponse:
    record(request, Action.LIVE_STILL, outcome="denied", reason=reason, **detail)
    return HttpResponse("Not found", status=404, content_type="text/plain", headers=_NO_STORE)


@never_cache
def live_still(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """A small JPEG of the newest live second; nothing (204) when there is none fresh, and the board shows the state
    instead."""
    device = getattr(request, "device_session", None)
    if device is None:
        return _refuse(request, "not signed in", admission=admission_id)
    try:
        admission = scope.get_live_admission(request.user, admission_id)
    except Http404:
        return _refuse(request, "out of scope", admission=admission_id)
    if why := scope.media_refusal(request.user, admission):
        return _refuse(request, why, admission=admission.pk)
    fresh = timezone.now() - timedelta(seconds=FRESH_SECONDS)
    row = (
        LiveSegment.objects.filter(admission=admission, camera__bed=admission.bed, created_at__gte=fresh)
        .order_by("-index")
        .first()
    )
    if row is None:  # nothing to show: the tile shows what the family is told instead
        return HttpResponse(status=204, headers=_NO_STORE)
    variant = delivery.variant_for(device, row.camera_id, row.index)
    try:
        data = segment_store().get(admission.media_id, str(row.camera_id), row.index, variant)
        image = still.jpeg(still.first_frame(data))
    except (StoreError, MediaError):
        record(
            request, Action.LIVE_STILL, outcome="failed", reason="unreadable", admission=admission, segment=row.index
        )
        return HttpResponse(status=204, headers=_NO_STORE)
    record_fetch(
        request,
        Action.LIVE_STILL,
        f"live:{admission.pk}",
        admission=admission,
        camera=row.camera_id,
        segment=row.index,
        variant=variant,
    )
    return HttpResponse(image, content_type="image/jpeg", headers=_NO_STORE)
