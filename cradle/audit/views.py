"""Who watched (parents), the audit search with CSV export and the alerts (privacy officers)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from cradle import scope
from cradle.accounts.models import User
from cradle.audit.forms import AuditSearchForm
from cradle.audit.log import record
from cradle.audit.models import Alert, Event
from cradle.unit.models import StaffMembership

# What a parent sees on "Who watched": every way of looking at their baby.
WATCH_ACTIONS = (
    "baby.view",
    "live.playlist",
    "live.segment",
    "live.key",
    "clip.playlist",
    "clip.segment",
    "clip.key",
)


@dataclass
class Watch:
    """One viewing as a parent reads it: who, how (page, live, a clip), from when until when."""

    who: str
    actor_id: int | None
    kind: str
    start: datetime
    end: datetime


# Fetches of one session closer together than this are one viewing; a longer pause starts a new one.
VIEWING_GAP = timedelta(minutes=10)


def watches(admission_id: int, limit: int = 20000) -> list[Watch]:
    """The newest viewings of a baby: a player's many fetches, and a session's openings of the page, count as one
    viewing until they pause for VIEWING_GAP. The player's state checks (`baby.status`) are audited but are not
    viewings, so they are not here."""
    events = (
        Event.objects.filter(admission_id=admission_id, action__in=WATCH_ACTIONS, outcome="ok")
        .order_by("-seq")
        .values("actor_id", "actor_name", "action", "session", "at", "detail")[:limit]
    )
    current: dict[tuple, Watch] = {}
    found: list[Watch] = []
    for e in events:
        kind = e["action"].split(".")[0]  # baby, live, clip
        key = (e["actor_id"], e["session"], kind, e["detail"].get("clip") if kind == "clip" else None)
        watch = current.get(key)
        if watch is None or watch.start - e["at"] > VIEWING_GAP:
            watch = current[key] = Watch(e["actor_name"], e["actor_id"], kind, e["at"], e["at"])
            found.append(watch)
        else:
            watch.start = min(watch.start, e["at"])
    return sorted(found, key=lambda w: w.end, reverse=True)


@login_required
def who_watched(request: HttpRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_parent_admission(request.user, admission_id)
    page = Paginator(watches(admission.pk), 50).get_page(request.GET.get("page"))
    staff_ids = set(StaffMembership.objects.filter(unit_id=admission.unit_id).values_list("user_id", flat=True))
    record(request, "audit.who_watched_view", admission=admission)
    return render(request, "audit/who_watched.html", {"admission": admission, "page": page, "staff_ids": staff_ids})


def _search(request: HttpRequest) -> tuple[AuditSearchForm, QuerySet[Event]]:
    units = scope.audited_unit_ids(request.user)
    if not units:
        raise Http404
    form = AuditSearchForm(request.GET or None)
    events = Event.objects.filter(unit_id__in=units)
    if form.is_valid():
        d = form.cleaned_data
        if d["unit"]:
            if d["unit"] not in units:
                raise Http404
            events = events.filter(unit_id=d["unit"])
        if d["account"]:
            user = User.objects.filter(username=d["account"].strip().lower()).first()
            events = events.filter(actor_id=user.pk if user else -1)
        if d["admission"]:
            events = events.filter(admission_id=d["admission"])
        if d["action"]:
            events = events.filter(action__startswith=d["action"].strip())
        if d["start"]:
            events = events.filter(at__gte=_utc(d["start"]))
        if d["end"]:
            events = events.filter(at__lte=_utc(d["end"]))
    return form, events.order_by("-seq")


def _utc(value):
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


@login_required
def audit_search(request: HttpRequest) -> HttpResponse:
    form, events = _search(request)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    criteria = form.cleaned_data if form.is_bound and form.is_valid() else {}
    record(request, "audit.search", query={k: str(v) for k, v in criteria.items() if v})
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/search.html", {"form": form, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def audit_export(request: HttpRequest) -> HttpResponse:
    _form, events = _search(request)
    record(request, "audit.export", query=request.GET.urlencode()[:500])
    writer = csv.writer(_Echo())
    header = [
        "seq",
        "at_utc",
        "actor_id",
        "actor",
        "action",
        "unit",
        "admission",
        "ip",
        "session",
        "outcome",
        "detail",
        "hash",
    ]

    def rows():
        yield writer.writerow(header)
        for e in events.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    e.seq,
                    e.at.astimezone(UTC).isoformat(),
                    e.actor_id,
                    _cell(e.actor_name),
                    e.action,
                    e.unit_id,
                    e.admission_id,
                    e.ip,
                    e.session,
                    e.outcome,
                    _cell(str(e.detail)),
                    e.hash,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cradle-audit.csv"'
    return response


def _cell(value: str) -> str:
    # A cell starting with a formula character would run as a formula when the file is opened in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    units = scope.audited_unit_ids(request.user)
    if not units:
        raise Http404
    if request.method == "POST":
        alert_id = request.POST.get("alert", "")
        alert = Alert.objects.filter(pk=int(alert_id), unit_id__in=units).first() if alert_id.isdigit() else None
        if alert is not None and request.POST.get("reinstate") and alert.kind == Alert.Kind.BULK_ACCESS:
            User.objects.filter(pk=alert.actor_id, suspended_at__isnull=False).update(
                is_active=True, suspended_at=None, suspended_for=""
            )
            record(request, "account.reinstated", unit=alert.unit_id, account=alert.actor_id, alert=alert.pk)
        if alert is not None and alert.acknowledged_at is None:
            Alert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now())
            record(request, "alert.acknowledged", unit=alert.unit_id, alert=alert.pk)
    return render(request, "audit/alerts.html", {"alerts": Alert.objects.filter(unit_id__in=units)[:200]})
