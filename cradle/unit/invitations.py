"""Invitation codes: 80 random bits, typed in four groups of four, stored only as a keyed digest."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from cradle.accounts.models import User
from cradle.unit.models import Admission, FamilyMembership, Invitation

# Crockford's base32: no I, L, O or U, so that a code read aloud or copied from paper survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LEN = 4, 4  # 16 symbols x 5 bits = 80 bits
_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


class InvitationError(Exception):
    """Why an invitation cannot be issued; the message is shown to the person who tried."""


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper().translate(_TYPOS) if ch in ALPHABET)


def digest(code: str) -> str:
    return salted_hmac("cradle.unit.invitation", normalise(code), algorithm="sha256").hexdigest()


def issue(admission: Admission, role: str, by: User) -> tuple[Invitation, str]:
    """Creates an invitation; gives it with the code, which is never stored and shown only on the slip."""
    if not admission.is_active:
        raise InvitationError(_("This baby has been discharged."))
    if role == FamilyMembership.Role.RELATIVE:
        active = admission.family.filter(role=role, revoked_at__isnull=True).count()
        pending = admission.invitations.filter(
            role=role, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).count()
        if active + pending >= admission.unit.relative_cap:
            raise InvitationError(
                _("The unit allows %(cap)d relatives per baby. Revoke a relative or an open invitation first.")
                % {"cap": admission.unit.relative_cap}
            )
    elif role == FamilyMembership.Role.PARENT:
        active = admission.family.filter(role=role, revoked_at__isnull=True).count()
        if active >= admission.unit.parent_cap:
            raise InvitationError(_("This baby already has the most parents the unit allows."))
    else:
        raise InvitationError(_("Unknown role."))
    code, now = new_code(), timezone.now()
    invitation = Invitation.objects.create(
        admission=admission,
        role=role,
        code_digest=digest(code),
        created_by=by,
        created_at=now,
        expires_at=now + timedelta(hours=settings.CRADLE.invitation_hours),
    )
    return invitation, code


def find_open(code: str) -> Invitation | None:
    """The open invitation for this code, or None whether it is unknown, used, revoked or expired."""
    if len(normalise(code)) != GROUPS * GROUP_LEN:
        return None
    invitation = (
        Invitation.objects.select_related("admission", "admission__unit").filter(code_digest=digest(code)).first()
    )
    if invitation is None or not invitation.is_open or not invitation.admission.is_active:
        return None
    return invitation


@transaction.atomic
def redeem(invitation_id: int, user: User) -> FamilyMembership | None:
    """Marks the invitation used and makes the user a family member; None if it was used meanwhile."""
    updated = Invitation.objects.filter(
        pk=invitation_id, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).update(used_at=timezone.now(), used_by=user)
    if not updated:
        return None
    invitation = Invitation.objects.select_related("admission").get(pk=invitation_id)
    return FamilyMembership.objects.create(
        user=user, admission=invitation.admission, role=invitation.role, invited_by=invitation.created_by
    )
