"""Sign-in and sign-out: device sessions and audit events."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils import timezone

from cradle.accounts import sessions, throttle
from cradle.accounts.models import DeviceSession
from cradle.audit.log import record


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    sessions.start(request, user)
    throttle.succeeded(request, user.username)
    record(request, "account.login", actor=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs) -> None:
    device = getattr(request, "device_session", None)
    if device is not None:
        DeviceSession.objects.filter(pk=device.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(),
            end_reason=DeviceSession.EndReason.LOGOUT,
        )
    if user is not None:
        record(request, "account.logout", actor=user)
