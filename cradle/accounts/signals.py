"""Sign-in and sign-out, second factors added and removed: device sessions and audit events."""

from __future__ import annotations

from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle.accounts import second_step, sessions, throttle
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import record


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    # A second factor proved by an earlier sign-in of this session does not carry over to this one.
    request.session.pop(second_step.VOUCHED, None)
    sessions.start(request, user)
    throttle.succeeded(request, user.username)
    record(request, Action.ACCOUNT_LOGIN, actor=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs) -> None:
    device = getattr(request, "device_session", None)
    if device is not None:
        DeviceSession.objects.filter(pk=device.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(),
            end_reason=DeviceSession.EndReason.LOGOUT,
        )
    if user is not None:
        record(request, Action.ACCOUNT_LOGOUT, actor=user)


@receiver(mfa_signals.authenticator_added)
def on_second_factor_added(sender, request, user, authenticator: Authenticator, **kwargs) -> None:
    record(request, Action.ACCOUNT_SECOND_FACTOR_ADDED, actor=user, method=authenticator.type)
    if authenticator.type not in second_step.FACTORS:
        return
    others = Authenticator.objects.filter(user=user, type__in=second_step.FACTORS).exclude(pk=authenticator.pk)
    if others.exists():
        return
    # The first second step: sessions opened elsewhere with the password alone (perhaps by someone who learnt it)
    # must not keep the picture that the second step now guards. This device stays signed in.
    current = getattr(request, "device_session", None)
    elsewhere = DeviceSession.objects.filter(user=user, ended_at__isnull=True)
    if current is not None:
        elsewhere = elsewhere.exclude(pk=current.pk)
    ended = 0
    for device in elsewhere:
        sessions.end(device, DeviceSession.EndReason.BY_USER)
        ended += 1
    if ended:
        record(request, Action.ACCOUNT_SESSIONS_ENDED, actor=user, reason="first second step", count=ended)
        messages.info(request, _("Your other devices were signed out. Sign in there again with your second step."))


@receiver(mfa_signals.authenticator_removed)
def on_second_factor_removed(sender, request, user, authenticator: Authenticator, **kwargs) -> None:
    record(request, Action.ACCOUNT_SECOND_FACTOR_REMOVED, actor=user, method=authenticator.type)
