"""Staff accounts from the directory: found by the directory's id of the person, made on first sign-in, their
roles kept to what their groups give, closed when the directory closes them."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession, User
from cradle.audit.actions import Action
from cradle.audit.creation import acting
from cradle.audit.log import record
from cradle.integrations.directory import roles
from cradle.integrations.directory.models import DirectoryIdentity


def username_for(login: str, source: str) -> str:
    """Cradle's username for a directory person: `login@source`. Family usernames cannot hold "@", so nobody can
    take a staff member's name before their first sign-in."""
    return f"{login.strip().lower()[:50]}@{source}"


def _free_username(login: str, source: str) -> str:
    """`login@source`, or `login-2@source` and so on when another person of the directory had that login first (a
    login given again to someone new): the account belongs to the directory's id of the person, not to the name."""
    base = re.sub(r"[^\w.+-]", "-", login.strip().lower())[:44] or "staff"
    username = username_for(base, source)
    number = 1
    while User.objects.filter(username=username).exists():
        number += 1
        username = username_for(f"{base}-{number}", source)
    return username


def account_for(source: str, subject: str, login: str, name: str, request=None, issuer: str = "") -> User:
    """The Cradle account of this directory person, made on their first sign-in."""
    with transaction.atomic():
        identity = (
            DirectoryIdentity.objects.select_related("user")
            .filter(source=source, issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            with acting(f"directory:{source}", request=request):
                user = User.objects.create_user(_free_username(login, source), None, display_name=name[:60])
                DirectoryIdentity.objects.create(
                    user=user, source=source, issuer=issuer, subject=subject, login=login[:150]
                )
            return user
        user = identity.user
        changed: dict[str, object] = {}
        if user.display_name != name[:60]:
            changed["display_name"] = name[:60]
        if not user.is_active and user.suspended_at is None:
            # Closed by the directory, which lets them in again. An account suspended for bulk access stays so
            # until a privacy officer reinstates it, whatever the directory says.
            changed["is_active"] = True
        if changed:
            User.objects.filter(pk=user.pk).update(**changed)
            for attribute, value in changed.items():
                setattr(user, attribute, value)
        DirectoryIdentity.objects.filter(pk=identity.pk).update(login=login[:150], checked_at=timezone.now())
        return user


def close(user: User, source: str, reason: str, request=None) -> int:
    """The directory no longer lets this person in: every session ends and the account is closed until the
    directory lets them in again. Gives the sessions ended."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        roles.sync(user, set(), via=f"directory:{source}")
    ended = sessions.end_all(user, DeviceSession.EndReason.ACCESS_ENDED)
    record(request, Action.DIRECTORY_ACCOUNT_CLOSED, actor=user, source=source, reason=reason, sessions_ended=ended)
    return ended
