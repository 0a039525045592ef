"""Signed-in devices: starting, expiring and ending them."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.request import CradleRequest, client_ip

DEFAULT_IDLE_MINUTES = 30
DEFAULT_LIFETIME_HOURS = 12


def limits_for(user: User) -> tuple[int, int]:
    """Idle timeout and absolute lifetime in seconds: the strictest of the units the person belongs to."""
    from cradle.unit.models import Unit

    units = Unit.objects.filter(staff__user=user) | Unit.objects.filter(
        admissions__family__user=user, admissions__family__revoked_at__isnull=True
    )
    agg = units.aggregate(idle=Min("idle_timeout_minutes"), life=Min("session_lifetime_hours"))
    idle = agg["idle"] or DEFAULT_IDLE_MINUTES
    life = agg["life"] or DEFAULT_LIFETIME_HOURS
    return idle * 60, life * 3600


def start(request: CradleRequest, user: User) -> DeviceSession:
    if not request.session.session_key:
        request.session.save()
    key = request.session.session_key
    assert key, "a saved session has a key"
    idle, life = limits_for(user)
    device = DeviceSession.objects.create(
        user=user,
        session_key=key,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        idle_timeout_s=idle,
        lifetime_s=life,
    )
    request.device_session = device
    return device


def expiry_reason(device: DeviceSession) -> str | None:
    now = timezone.now()
    if now - device.created_at > timedelta(seconds=device.lifetime_s):
        return DeviceSession.EndReason.LIFETIME
    if now - device.last_seen_at > timedelta(seconds=device.idle_timeout_s):
        return DeviceSession.EndReason.IDLE
    return None


def end(device: DeviceSession, reason: str) -> None:
    """Ends one device's session: the session data is deleted, so its cookie opens nothing any more.

    The reason is written first, in the same transaction: a request that finds the session gone must also find why,
    or a relative whose access was just removed is told "signed out" (and stops there) instead of "access ended". A
    request between the two still has its session, and the sign-in check ends it with the reason already written.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    with transaction.atomic():
        DeviceSession.objects.filter(pk=device.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=reason
        )
        store(session_key=device.session_key).delete()


def end_all(user: User, reason: str) -> int:
    devices = list(DeviceSession.objects.filter(user=user, ended_at__isnull=True))
    for device in devices:
        end(device, reason)
    return len(devices)
