"""Whether a missing second sign-in step stands between a person and a baby's pictures.

A unit may require its families to have a second step (a passkey or an authenticator app) before any media is served
to them, so that a leaked or reset password alone never shows a baby; new units do. A unit that existed before the rule
came gives its families until `Unit.second_step_grace_until`, with a reminder on the baby's page; after that, and at
once in a new unit, media is refused until they add one. Staff always have a second factor (the staff middleware sends
them to add one before anything else, and they cannot remove their last), so the rule holds for them trivially.

cradle.scope asks this module for every media fetch; the fast path's grants end with the grace period, and database
triggers (unit migration 0006) revoke them when a second factor is removed or the unit's rule changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from django.http import HttpRequest
from django.utils import timezone

from cradle.accounts.models import User

if TYPE_CHECKING:
    from cradle.unit.models import Unit

# Recovery codes alone are not a second step: they exist to replace a lost one.
FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)

# A sign-in that proved a second factor itself (the hospital's provider says so in its ID token) is not asked for
# Cradle's own step: the login's state carries it through allauth's stages (cradle.accounts.stages), and the session
# keeps it (the staff rule in cradle.accounts.middleware). Every sign-in starts without it (cradle.accounts.signals);
# only the sign-in that proved it sets it, so it never outlives that session.
VOUCHED = "cradle_second_step_vouched"


def vouched(request: HttpRequest) -> str:
    """How this session's sign-in proved a second factor (e.g. "amr:otp"), or "" when it did not."""
    session = getattr(request, "session", None)
    value = session.get(VOUCHED, "") if session is not None else ""
    return value if isinstance(value, str) else ""


def has_second_factor(user: User) -> bool:
    """Whether the person has a passkey or an authenticator app."""
    if not user.is_authenticated:
        return False
    return Authenticator.objects.filter(user_id=user.pk, type__in=FACTORS).exists()


@dataclass(frozen=True)
class Standing:
    """Where a person stands with one unit's rule."""

    refused: bool = False  # media is refused until they add a second step
    grace_until: datetime | None = None  # they have none, and may watch until then

    @property
    def needs_second_step(self) -> bool:
        return self.refused or self.grace_until is not None


def standing(user: User, unit: Unit) -> Standing:
    """Whether this unit's rule refuses media to this person now, or until when it lets them watch without a step."""
    if not unit.family_second_step or has_second_factor(user):
        return Standing()
    grace = unit.second_step_grace_until
    if grace is not None and grace > timezone.now():
        return Standing(grace_until=grace)
    return Standing(refused=True)
