"""What the rest of Cradle calls to record an event or raise an alert."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle import metrics
from cradle.audit import chain
from cradle.audit.models import Alert, Event
from cradle.request import client_ip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Whom an event names when the account's row is not at hand: the fast path of media fetches
    (cradle.viewing.fastpath) answers from a grant, before the account is loaded."""

    pk: int
    display_name: str
    username: str = ""


def event_fields(
    request: HttpRequest | None,
    action: str,
    *,
    admission: Any = None,
    unit: Any = None,
    outcome: str = Event.Outcome.OK,
    actor: Any = None,
    session: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """What an audit event of this request holds: who, what, which admission, from where, in which session, when.

    The one place these fields are listed. `actor` and `session` default to the request's signed-in account and
    device session; `admission` and `unit` may be objects or ids."""
    user = actor
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    if unit is None and admission is not None:
        unit = getattr(admission, "unit_id", None) or _unit_of(admission)
    device = getattr(request, "device_session", None) if request is not None else None
    return {
        "at": timezone.now(),
        "actor_id": user.pk if user else None,
        "actor_name": (user.display_name or user.username) if user else "",
        "action": action,
        "unit_id": getattr(unit, "pk", unit),
        "admission_id": getattr(admission, "pk", admission),
        "ip": client_ip(request) if request is not None else None,
        "session": session if session is not None else (device.public_id if device else ""),
        "outcome": outcome,
        "detail": detail,
    }


def record(request: HttpRequest | None, action: str, **kwargs: Any) -> Event:
    """Appends an audit event for this request at once."""
    event = chain.append(**event_fields(request, action, **kwargs))
    # Media requests are refused through here (and playlists allowed): counted for the delivery rates.
    metrics.count_fetch(action, allowed=event.outcome == Event.Outcome.OK)
    return event


def record_fetch(request: HttpRequest, action: str, first_of: str, **kwargs: Any) -> None:
    """Records a media fetch before it is answered (cradle.audit.batch): durable in the database or the audit spool,
    or AuditUnavailable (a 503). The first fetch of a session for `first_of` (an admission's live picture, a clip)
    goes to the database at once; later ones may wait a fraction of a second in the spool."""
    device = getattr(request, "device_session", None)
    write_answer(event_fields(request, action, **kwargs), f"{getattr(device, 'pk', 0)}:{first_of}")


def record_media(request: HttpRequest, action: str, **kwargs: Any) -> None:
    """Records an allowed media answer (a playlist, a key) at once, in the database or, while it refuses, in the audit
    spool; AuditUnavailable (a 503) when neither takes it."""
    write_answer(event_fields(request, action, **kwargs), at_once=True)


def write_answer(fields: dict[str, Any], first_key: str | None = None, *, at_once: bool = False) -> None:
    """Makes an allowed media answer's event durable before the answer leaves (cradle.audit.batch.write says where
    it goes), and counts it for the delivery rates."""
    from cradle.audit import batch

    batch.write(fields, first_key, at_once=at_once)
    metrics.count_fetch(fields["action"], allowed=True)


def alert_privacy_officers(unit_id: int, kind: str, actor: Any = None, **detail: Any) -> Alert:
    """Raises an alert on the privacy officers' page and e-mails those who gave an address."""
    from cradle.unit.models import StaffMembership

    alert = Alert.objects.create(unit_id=unit_id, kind=kind, detail=detail, actor_id=getattr(actor, "pk", None))
    recipients = list(
        StaffMembership.objects.filter(unit_id=unit_id, role=StaffMembership.Role.PRIVACY_OFFICER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if recipients:
        try:
            # The mail says nothing of the alert itself: details stay behind the sign-in.
            send_mail(
                _("Cradle: an alert needs your review"),
                _("A new alert is waiting for you in Cradle."),
                None,
                recipients,
            )
        except OSError:
            log.exception("could not e-mail the alert to the privacy officers")
    return alert


def _unit_of(admission_id: int) -> int | None:
    """The unit of an admission given by id (refused requests name one that may not exist)."""
    from cradle.unit.models import Admission

    return Admission.objects.filter(pk=admission_id).values_list("unit_id", flat=True).first()
