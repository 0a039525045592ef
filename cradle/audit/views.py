"""Who watched (parents), the audit search with CSV export and the alerts (privacy officers)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from cradle import scope
from cradle.accounts.models import User
from cradle.audit import search
from cradle.audit.actions import WATCH_ACTIONS, Action
from cradle.audit.log import record
from cradle.audit.models import Alert, Event
from cradle.unit.models import StaffMembership
from cradle.web.request import SignedInRequest


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
def who_watched(request: SignedInRequest, admission_id: int) -> HttpResponse:
    admission = scope.get_parent_admission(request.user, admission_id)
    page = Paginator(watches(admission.pk), 50).get_page(request.GET.get("page"))
    staff_ids = set(StaffMembership.objects.filter(unit_id=admission.unit_id).values_list("user_id", flat=True))
    record(request, Action.AUDIT_WHO_WATCHED_VIEW, admission=admission)
    return render(request, "audit/who_watched.html", {"admission": admission, "page": page, "staff_ids": staff_ids})


@login_required
def audit_search(request: SignedInRequest) -> HttpResponse:
    found = search.search(request)
    page = Paginator(found.events, 100).get_page(request.GET.get("page"))
    form = found.form
    criteria = form.cleaned_data if form.is_bound and form.is_valid() else {}
    record(request, Action.AUDIT_SEARCH, query={k: str(v) for k, v in criteria.items() if v})
    query = request.GET.copy()
    query.pop("page", None)
    every = query.copy()
    every["every_row"] = "on"
    return render(
        request,
        "audit/search.html",
        {
            "form": form,
            "page": page,
            "rows": search.rows(list(page), found.babies),
            "folded": found.folded.count() if found.folded is not None else 0,
            "query": query.urlencode(),
            "every_query": every.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def audit_export(request: SignedInRequest) -> StreamingHttpResponse:
    # The export keeps every row: it is the evidence, not a reading aid.
    events = search.search(request, fold=False).events
    record(request, Action.AUDIT_EXPORT, query=request.GET.urlencode()[:500])
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
def alerts(request: SignedInRequest) -> HttpResponse:
    units = scope.audited_unit_ids(request.user)
    if not units:
        raise Http404
    if request.method == "POST":
        alert_id = request.POST.get("alert", "")
        alert = Alert.objects.filter(pk=int(alert_id), unit_id__in=units).first() if alert_id.isdigit() else None
        if alert is not None and request.POST.get("reinstate") and alert.kind == Alert.Kind.BULK_ACCESS:
            if alert.actor_id is not None:
                User.objects.filter(pk=alert.actor_id, suspended_at__isnull=False).update(
                    is_active=True, suspended_at=None, suspended_for=""
                )
            record(request, Action.ACCOUNT_REINSTATED, unit=alert.unit_id, account=alert.actor_id, alert=alert.pk)
        if alert is not None and alert.acknowledged_at is None:
            Alert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now())
            record(request, Action.ALERT_ACKNOWLEDGED, unit=alert.unit_id, alert=alert.pk)
    return render(request, "audit/alerts.html", {"alerts": Alert.objects.filter(unit_id__in=units)[:200]})
