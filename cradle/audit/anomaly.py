"""Bulk-access detection: accounts that fetch media like a harvester, not like a family, are stopped at once.

Each rule counts the account's own audit events. A hit suspends the account pending review (it cannot sign in and
all its sessions end), and the privacy officers of the unit concerned get an alert (cradle.accounts.suspension).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from cradle.audit.actions import Action
from cradle.audit.models import Event
from cradle.config import CradleConfig
from cradle.request import SignedInRequest

MEDIA_PLAYLISTS = (Action.LIVE_PLAYLIST, Action.CLIP_PLAYLIST)
STAFF_MEDIA = (Action.BABY_VIEW, Action.LIVE_PLAYLIST, Action.CLIP_PLAYLIST)


def _limits() -> CradleConfig:
    return settings.CRADLE


def _distinct(user_id: int, actions: tuple[str, ...], since, field: str) -> int:
    events = Event.objects.filter(actor_id=user_id, action__in=actions, outcome="ok", at__gte=since)
    return events.exclude(**{f"{field}__isnull": True}).values(field).distinct().count()


def finding(user, *, staff: bool, clip_fetch: bool) -> tuple[str, dict] | None:
    """The rule this account now breaks, with the figures, or None."""
    now = timezone.now()
    hour = now - timedelta(hours=1)
    limits = _limits()
    if clip_fetch:
        clips = _distinct(user.pk, (Action.CLIP_PLAYLIST,), hour, "detail__clip")
        if clips > limits.bulk_clips_per_hour:
            return "clips_per_hour", {"clips": clips}
    if staff:
        admissions = _distinct(user.pk, STAFF_MEDIA, hour, "admission_id")
        if admissions > limits.bulk_staff_admissions_per_hour:
            return "staff_admissions_per_hour", {"admissions": admissions}
    sessions = _distinct(user.pk, MEDIA_PLAYLISTS, now - timedelta(minutes=2), "session")
    if sessions > limits.bulk_concurrent_sessions:
        return "concurrent_sessions", {"sessions": sessions}
    addresses = _distinct(user.pk, MEDIA_PLAYLISTS, hour, "ip")
    if addresses > limits.bulk_addresses_per_hour:
        return "addresses_per_hour", {"addresses": addresses}
    return None


def check(request: SignedInRequest, admission, *, clip_fetch: bool = False) -> bool:
    """Runs the rules after a media fetch was recorded; True when the account has just been suspended."""
    from cradle.accounts import suspension
    from cradle.scope import is_staff

    user = request.user
    staff = is_staff(user)
    device = getattr(request, "device_session", None)
    # Live players ask for a playlist every second; the slower rules need not run that often for a session.
    throttle_key = f"bulk-check:{getattr(device, 'pk', 0)}"
    if not clip_fetch and not staff and not cache.add(throttle_key, 1, 15):
        return False
    hit = finding(user, staff=staff, clip_fetch=clip_fetch)
    if hit is None:
        return False
    rule, figures = hit
    suspension.suspend(request, user, rule, figures, unit_id=admission.unit_id)
    return True
