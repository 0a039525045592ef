"""Who watched (parents), the audit search with CSV export and the alerts (privacy officers)."""

from __future__ import annotations

import csv
from datetime import UTC

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from cradle import scope
from cradle.accounts import suspension
from cradle.audit import search, watching
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Alert
from cradle.request import SignedInRequest


@login_required
def who_watched(request: SignedInRequest, admission_id: int) -> HttpResponse:
    viewings = watching.who_watched(request, admission_id)
    page = Paginator(viewings.watches, 50).get_page(request.GET.get("page"))
    context = {"admission": viewings.admission, "page": page, "staff_ids": viewings.staff_ids}
    return render(request, "audit/who_watched.html", context)


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
    listed = scope.audited_alerts(request.user)
    if request.method == "POST":
        alert_id = request.POST.get("alert", "")
        alert = scope.get_audited_alert(request.user, int(alert_id)) if alert_id.isdigit() else None
        if alert is not None and request.POST.get("reinstate") and alert.kind == Alert.Kind.BULK_ACCESS:
            suspension.reinstate(request, alert)
        if alert is not None and alert.acknowledged_at is None:
            Alert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now())
            record(request, Action.ALERT_ACKNOWLEDGED, unit=alert.unit_id, alert=alert.pk)
    return render(request, "audit/alerts.html", {"alerts": listed[:200]})
