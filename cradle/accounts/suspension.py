"""Suspending an account and reinstating it: what stops a person, and what lets them back in.

Bulk-access detection (cradle.audit.anomaly) decides that an account fetches media like a harvester; stopping it is
the account's business, kept here beside sessions: the account cannot sign in, every session ends at once, the event is
recorded and the unit's privacy officers are alerted. A privacy officer who has reviewed the alert reinstates it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import alert_privacy_officers, record
from cradle.audit.models import Alert


def suspend(request: HttpRequest | None, user: Any, rule: str, figures: dict[str, Any], unit_id: int) -> None:
    """Stops the account pending review: no sign-in, every session ended, the event recorded and the officers told."""
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(
            is_active=False, suspended_at=timezone.now(), suspended_for=rule
        )
    ended = sessions.end_all(user, DeviceSession.EndReason.SUSPENDED)
    record(
        request,
        Action.ACCOUNT_SUSPENDED,
        unit=unit_id,
        actor=user,
        outcome="denied",
        rule=rule,
        sessions_ended=ended,
        **figures,
    )
    alert_privacy_officers(
        unit_id,
        Alert.Kind.BULK_ACCESS,
        actor=user,
        name=user.display_name,
        username=user.username,
        rule=rule,
        **figures,
    )


def reinstate(request: HttpRequest, alert: Alert) -> None:
    """Lets the account that a bulk-access alert stopped sign in again, once a privacy officer has reviewed it."""
    if alert.actor_id is not None:
        get_user_model().objects.filter(pk=alert.actor_id, suspended_at__isnull=False).update(
            is_active=True, suspended_at=None, suspended_for=""
        )
    record(request, Action.ACCOUNT_REINSTATED, unit=alert.unit_id, account=alert.actor_id, alert=alert.pk)
