"""What the family is told by e-mail: that something is waiting, never what or whom it shows.

A notification passes through mail servers outside the hospital, so it carries no health information, no baby's
nickname, bed or unit, and no link that names an admission: only that Cradle has something new.
"""

from __future__ import annotations

import logging

from django.core.mail import EmailMessage
from django.utils.translation import gettext as _

from cradle.unit.models import Admission, FamilyMembership

log = logging.getLogger(__name__)


def clip_waiting(admission: Admission) -> int:
    """E-mails each family member who gave an address that a new clip is waiting; gives how many were sent."""
    members = FamilyMembership.objects.filter(admission=admission, revoked_at__isnull=True).select_related("user")
    sent = 0
    for member in members:
        if not member.user.email:
            continue
        # One message per person, so that no one sees another family member's address.
        message = EmailMessage(_("Cradle"), _("A new clip is waiting in Cradle."), None, [member.user.email])
        try:
            sent += message.send()
        except OSError:
            log.exception("could not e-mail a clip notification")
    return sent
