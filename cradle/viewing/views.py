"""The live player page, its playlist and the segments: scoped, audited, one variant per session."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.audit import anomaly
from cradle.audit.actions import Action
from cradle.audit.log import record, record_fetch, record_media
from cradle.media.store import StoreError
from cradle.request import CradleRequest, SignedInRequest
from cradle.viewing import answer, clips, delivery, grants, keepsake_pages, states
from cradle.viewing.answer import NO_STORE as _NO_STORE
from cradle.viewing.answer import Picture, Segment, Viewer
from cradle.viewing.delivery import live_rows
from cradle.viewing.models import LiveSegment


def _refuse(request: HttpRequest, action: str, reason: str, **detail) -> HttpResponse:
    """A 404 that says nothing, and an audit event that says why."""
    record(request, action, outcome="denied", reason=reason, **detail)
    return HttpResponse("Not found", status=404, content_type="text/plain", headers=_NO_STORE)


@never_cache
def live_status(request: CradleRequest, admission_id: int) -> HttpResponse:
    """What the baby's page shows now (cradle.viewing.states), asked by its player every few seconds.

    A signed-out browser is told why its session ended, whatever the id (nothing about the baby); anything outside
    the person's scope is a 404 like every other path. Each check is audited under an action of its own, batched like
    segment fetches, so that "Who watched" counts viewings rather than a player's heartbeats; once a check has been
    authorised here, the next ones of that session take the fast path until something revokes it.
    """
    if not request.user.is_authenticated:
        state = states.of_signed_out(request.signed_out_reason, reverse("baby", args=[admission_id]))
        return JsonResponse(state.as_json(), headers=_NO_STORE)
    admission = scope.get_watchable_admission(request.user, admission_id)
    if scope.media_refusal(request.user, admission):
        state = states.second_step_needed()
    else:
        state = states.of_admission(admission)
    record_fetch(request, Action.BABY_STATUS, f"status:{admission.pk}", admission=admission, state=state.code)
    if state.plays:
        # The next checks take the fast path (cradle.viewing.fastpath): a few queries instead of a whole sign-in's.
        grants.remember(request, admission, grants.STATUS)
    return JsonResponse(state.as_json(), headers=_NO_STORE)


@never_cache
def live_playlist(request: SignedInRequest, admission_id: int) -> HttpResponse:
    device = getattr(request, "device_session", None)
    if device is None:
        return _refuse(request, Action.LIVE_PLAYLIST, "not signed in", admission=admission_id)
    try:
        admission = scope.get_live_admission(request.user, admission_id)
    except Http404:
        return _refuse(request, Action.LIVE_PLAYLIST, "out of scope", admission=admission_id)
    if why := scope.media_refusal(request.user, admission):
        return _refuse(request, Action.LIVE_PLAYLIST, why, admission=admission.pk)
    count = settings.CRADLE.live_playlist_segments
    newest = live_rows(admission.pk, admission.bed_id)[:count]
    segments = list(reversed(newest))
    viewer, picture = Viewer.of(request), Picture.of(admission)
    answer.audit_live_playlist(request, viewer, picture, segments, at_once=True)
    if anomaly.check(request, admission):
        return _refuse(request, Action.LIVE_PLAYLIST, "account suspended", admission=admission.pk)
    grants.remember(request, admission, segments=segments)
    return answer.live_playlist(viewer, segments)


def segment(request: SignedInRequest, token: str) -> HttpResponse:
    ticket = delivery.open_ticket(token)
    if ticket is None:
        return _refuse(request, Action.LIVE_SEGMENT, "bad signature")
    action = Action.CLIP_SEGMENT if ticket.clip_id else Action.LIVE_SEGMENT
    if ticket.expires < time.time():
        return _refuse(request, action, "expired", segment=ticket.segment_id)
    device = getattr(request, "device_session", None)
    if device is None or device.pk != ticket.device_id:
        return _refuse(request, action, "another or ended session", segment=ticket.segment_id)
    row = LiveSegment.objects.filter(pk=ticket.segment_id).first()
    if row is None or (ticket.clip_id and not row.clips.filter(pk=ticket.clip_id).exists()):
        return _refuse(request, action, "gone", segment=ticket.segment_id)
    try:
        # Clips stay watchable through the grace period after discharge; the live picture only while live is allowed.
        admission = (scope.get_watchable_admission if ticket.clip_id else scope.get_live_admission)(
            request.user, row.admission_id
        )
    except Http404:
        return _refuse(request, action, "out of scope", admission=row.admission_id, segment=row.index)
    if why := scope.media_refusal(request.user, admission):
        return _refuse(request, action, why, admission=admission.pk, segment=row.index)
    try:
        response = answer.segment(request, Viewer.of(request), Picture.of(admission), Segment.of(row), ticket.clip_id)
    except StoreError:
        return _refuse(request, action, "unreadable", admission=admission.pk, segment=row.index)
    grants.remember(request, admission, ticket.clip_id, [row])
    return response


def segment_key(request: SignedInRequest, token: str) -> HttpResponse:
    """The AES-128 key of one camera epoch or clip (edge mode): checked like a segment, and audited."""
    ticket = delivery.open_key_ticket(token)
    if ticket is None:
        return _refuse(request, Action.LIVE_KEY, "bad signature")
    action = Action.CLIP_KEY if ticket.clip_id else Action.LIVE_KEY
    detail = answer.key_detail(ticket)
    if ticket.expires < time.time():
        return _refuse(request, action, "expired", **detail)
    device = getattr(request, "device_session", None)
    if device is None or device.pk != ticket.device_id:
        return _refuse(request, action, "another or ended session", **detail)
    try:
        admission = (scope.get_watchable_admission if ticket.clip_id else scope.get_live_admission)(
            request.user, ticket.admission_id
        )
    except Http404:
        return _refuse(request, action, "out of scope", admission=ticket.admission_id, **detail)
    if why := scope.media_refusal(request.user, admission):
        return _refuse(request, action, why, admission=admission.pk, **detail)
    if ticket.clip_id and not admission.clips.filter(pk=ticket.clip_id).exists():
        return _refuse(request, action, "gone", admission=admission.pk, **detail)
    try:
        response = answer.key(request, Viewer.of(request), Picture.of(admission), ticket, at_once=True)
    except StoreError:
        return _refuse(request, action, "unreadable", admission=admission.pk, **detail)
    grants.remember(request, admission, ticket.clip_id)
    return response


@login_required
def clip(request: SignedInRequest, clip_id: int) -> HttpResponse:
    item = scope.get_watchable_clip(request.user, clip_id)
    device = getattr(request, "device_session", None)
    return render(
        request,
        "viewing/clip.html",
        {
            "clip": item,
            "admission": item.admission,
            "viewer_code": delivery.viewer_code(device) if device else "",
            # Parents keep keepsakes through the grace period after discharge too.
            "is_parent": item.admission_id in scope.family_admission_ids(request.user, "parent"),
            "keepsakes": keepsake_pages.notices(request.user, item.admission),
            "second_step": scope.second_step_standing(request.user, item.admission),
            "screened_seconds": clips.screened_seconds(item),
        },
    )


@never_cache
def clip_playlist(request: SignedInRequest, clip_id: int) -> HttpResponse:
    device = getattr(request, "device_session", None)
    if device is None:
        return _refuse(request, Action.CLIP_PLAYLIST, "not signed in", clip=clip_id)
    try:
        item = scope.get_watchable_clip(request.user, clip_id)
    except Http404:
        return _refuse(request, Action.CLIP_PLAYLIST, "out of scope", clip=clip_id)
    if why := scope.media_refusal(request.user, item.admission):
        return _refuse(request, Action.CLIP_PLAYLIST, why, admission=item.admission_id, clip=item.pk)
    segments = list(item.segments.order_by("index"))
    record_media(request, Action.CLIP_PLAYLIST, admission=item.admission, clip=item.pk)
    if anomaly.check(request, item.admission, clip_fetch=True):
        return _refuse(request, Action.CLIP_PLAYLIST, "account suspended", clip=item.pk)
    grants.remember(request, item.admission, item.pk, segments)
    body = delivery.clip_playlist(device, item.pk, segments)
    return HttpResponse(body, content_type=answer.PLAYLIST_TYPE, headers=_NO_STORE)


@login_required
@require_POST
def record_clip(request: SignedInRequest, admission_id: int) -> HttpResponse:
    """A nurse keeps the last seconds of the live picture for the family."""
    admission = scope.get_nursed_admission(request.user, admission_id)
    try:
        seconds = int(request.POST.get("seconds", ""))
    except ValueError:
        seconds = 0
    if seconds not in clips.CLIP_SECONDS:
        messages.error(request, _("Choose how many seconds to keep."))
        return redirect("bed", bed_id=admission.bed_id)
    made = clips.record(admission, seconds, by=request.user)
    if made is None:
        messages.error(request, _("There is no picture to keep yet. Try again in a minute."))
    else:
        record(request, Action.CLIP_RECORDED, admission=admission, clip=made.pk, seconds=round(made.duration))
        kept = round(made.duration)
        short = clips.why_short(admission, seconds, made.duration)
        if short:
            messages.warning(request, short)
        else:
            messages.success(request, _("Clip kept for the family (%(seconds)d s).") % {"seconds": kept})
    return redirect("bed", bed_id=admission.bed_id)
