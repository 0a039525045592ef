"""The privacy officer's search over the audit log: criteria as the officer reads them, rows as the staff know them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle import scope
from cradle.accounts.models import User
from cradle.audit.actions import FOLDED, label
from cradle.audit.forms import AuditSearchForm
from cradle.audit.models import Event
from cradle.request import SignedInRequest
from cradle.unit.models import Admission


def baby_names(unit_ids: set[int]) -> dict[int, str]:
    """Every admission of these units named as the staff know it: its bed and nickname, newest first."""
    names: dict[int, str] = {}
    admissions = Admission.objects.filter(unit_id__in=unit_ids).select_related("bed").order_by("-admitted_at")
    for a in admissions:
        name = _("Bed %(bed)s") % {"bed": a.bed.label}
        if a.nickname:
            name += f" · {a.nickname}"
        if a.discharged_at is not None:
            name += " " + _("(left %(day)s)") % {"day": timezone.localdate(a.discharged_at).isoformat()}
        names[a.pk] = name
    return names


@dataclass
class Search:
    form: AuditSearchForm
    events: QuerySet[Event]
    folded: QuerySet[Event] | None
    babies: dict[int, str]


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the reader's time zone (the browser's, else the installation's)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def search(request: SignedInRequest, *, fold: bool = True) -> Search:
    """The events the officer's criteria pick, newest first; out of the officer's units is a 404."""
    units = scope.audited_unit_ids(request.user)
    if not units:
        raise Http404
    babies = baby_names(units)
    form = AuditSearchForm(request.GET or None, babies=list(babies.items()))
    events = Event.objects.filter(unit_id__in=units)
    every_row = False
    if form.is_valid():
        d = form.cleaned_data
        if d["unit"]:
            if d["unit"] not in units:
                raise Http404
            events = events.filter(unit_id=d["unit"])
        if account := d["account"].strip():
            # As the log shows it (the name at the time of the event, or now), or the username.
            ids = User.objects.filter(Q(username__iexact=account) | Q(display_name__icontains=account)).values("pk")
            events = events.filter(Q(actor_id__in=ids) | Q(actor_name__icontains=account))
        if d["admission"]:
            events = events.filter(admission_id=d["admission"])
        if action := d["action"]:
            events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
        if d["start"]:
            events = events.filter(at__gte=_day_start(d["start"]))
        if d["end"]:
            events = events.filter(at__lt=_day_start(d["end"] + timedelta(days=1)))
        every_row = d["every_row"] or d["action"] in FOLDED
    folded = None
    if fold and not every_row:
        folded = events.filter(action__in=FOLDED)
        events = events.exclude(action__in=FOLDED)
    return Search(form, events.order_by("-seq"), folded, babies)


@dataclass
class Row:
    """One event as the page shows it."""

    event: Event
    action: str
    baby: str
    username: str


def rows(events: list[Event], babies: dict[int, str]) -> list[Row]:
    usernames = dict(User.objects.filter(pk__in={e.actor_id for e in events}).values_list("pk", "username"))
    return [
        Row(
            e,
            label(e.action),
            babies.get(e.admission_id, "") if e.admission_id else "",
            usernames.get(e.actor_id, "") if e.actor_id else "",
        )
        for e in events
    ]
