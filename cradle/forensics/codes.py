"""Whose visible viewer code is this: the session, and the account, behind a code burned into a keepsake or shown by
the player.

A code is a keyed hash of its session (cradle.viewing.delivery.viewer_code) and cannot be turned back, so every
session is hashed and compared: a few microseconds each, about a second per hundred thousand sessions. A privacy
officer sees only accounts that watched a camera of, or belong to a baby in, a unit they audit. The code is a pointer,
never proof: anyone can type one onto a picture, and only the invisible mark identifies (cradle.forensics.tracing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from cradle.accounts.models import DeviceSession, User
from cradle.media.visible import codes_in
from cradle.unit.models import FamilyMembership
from cradle.viewing import delivery
from cradle.viewing.models import ServedVariant


@dataclass(frozen=True)
class CodeOwner:
    """One session whose viewer code is the code looked up."""

    code: str
    session: str  # the session's public id, as audit events name it
    account: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    ip: str | None


def normalise(text: str) -> str | None:
    """The viewer code in what an officer typed ("qx4m7b", "QX4-M7B", "Cradle QX4-M7B 2026-12-06"), or None."""
    text = text.strip().upper()
    if len(text) == 6 and "-" not in text:
        text = f"{text[:3]}-{text[3:]}"
    found = codes_in(text)
    return found[0] if found else None


def _accounts_of(unit_ids: set[int]) -> set[int]:
    watched = ServedVariant.objects.filter(camera__bed__unit_id__in=unit_ids).values_list("user_id", flat=True)
    family = FamilyMembership.objects.filter(admission__unit_id__in=unit_ids).values_list("user_id", flat=True)
    return set(watched.distinct()) | set(family.distinct())


def owners(code: str, unit_ids: set[int] | None = None) -> list[CodeOwner]:
    """Every session whose viewer code is `code` (normally one), limited to the accounts of `unit_ids` (None: all)."""
    sessions = DeviceSession.objects.all()
    if unit_ids is not None:
        sessions = sessions.filter(Q(user_id__in=_accounts_of(unit_ids)))
    found = [s for s in sessions.only("pk", "public_id", "user_id").iterator() if delivery.viewer_code(s) == code]
    names = dict(User.objects.filter(pk__in={s.user_id for s in found}).values_list("pk", "username"))
    rows = DeviceSession.objects.filter(pk__in=[s.pk for s in found]).order_by("-created_at")
    return [
        CodeOwner(code, s.public_id, names[s.user_id], s.created_at, s.last_seen_at, s.ended_at, s.ip) for s in rows
    ]
