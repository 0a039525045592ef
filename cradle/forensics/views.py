"""Leak tracing for privacy officers: upload suspects, watch the job, read and download the evidence report.

Every job is fetched through cradle.scope (get_audited_trace_job, audited_trace_jobs), which gives only jobs of units
the user audits and 404 otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.forensics import codes, evidence, jobs, pdf
from cradle.forensics.forms import TraceUploadForm
from cradle.forensics.models import TraceJob
from cradle.media.mark import ERASURE_Z
from cradle.request import SignedInRequest
from cradle.unit.models import Unit


def _job(request: SignedInRequest, job_id: int) -> TraceJob:
    return scope.get_audited_trace_job(request.user, job_id)


@login_required
def traces(request: SignedInRequest) -> HttpResponse:
    listed = scope.audited_trace_jobs(request.user)
    units = Unit.objects.filter(pk__in=scope.audited_unit_ids(request.user))
    form = TraceUploadForm(request.POST or None, request.FILES or None, units=units)
    if request.method == "POST" and form.is_valid():
        job = _queue(request, form.cleaned_data["unit"], form.cleaned_data["suspects"])
        transaction.on_commit(jobs.start_in_background)
        return redirect("trace_job", job.pk)
    return render(request, "forensics/traces.html", {"form": form, "jobs": listed[:100]})


def _queue(request: SignedInRequest, unit_id: int, uploads) -> TraceJob:
    job = TraceJob.objects.create(
        unit_id=unit_id, created_by=request.user, language=getattr(request, "LANGUAGE_CODE", "en")
    )
    job.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    suspects = []
    for i, upload in enumerate(uploads):
        path = job.folder / f"suspect-{i}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        suspects.append(
            {"name": get_valid_filename(Path(upload.name).name)[:100], "path": str(path), "size": upload.size}
        )
    job.suspects = suspects
    job.save(update_fields=["suspects"])
    record(request, Action.TRACE_QUEUED, unit=unit_id, job=job.pk, suspects=[s["name"] for s in suspects])
    return job


@login_required
@require_GET
def trace_job(request: SignedInRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    return render(request, "forensics/job.html", {"job": job})


@login_required
@require_GET
def trace_status(request: SignedInRequest, job_id: int) -> JsonResponse:
    job = _job(request, job_id)
    return JsonResponse(
        {
            "status": job.status,
            "finished": job.finished,
            "progress": job.progress,
            "text": job.progress_text,
            "error": job.error,
            "report": reverse("trace_report", args=[job.pk]) if job.status == TraceJob.Status.DONE else None,
        }
    )


def _report(request: SignedInRequest, job_id: int) -> tuple[TraceJob, dict]:
    job = _job(request, job_id)
    if job.status != TraceJob.Status.DONE or not job.report:
        raise Http404
    return job, job.report


def _report_page(request: SignedInRequest, job: TraceJob, report: dict) -> str:
    suspects = []
    for i, s in enumerate(report["suspects"]):
        thumbs = {k: evidence.frame_uri(job, i, k) for k in s.get("thumbnails", [])}
        zmax = max([abs(x["z"]) for x in s["segments"]] + [1.0])
        segments = [
            {
                **x,
                "bit": _bit(x),
                # "12" for a segment marked whole, "12.1" for its second half-second unit.
                "label": f"{x['index']}.{x['unit']}" if x.get("units", 1) > 1 else str(x["index"]),
                "bar": round(100 * min(abs(x["z"]), zmax) / zmax),
                "cells": [x["candidates"].get(a) for a in _top(s)],
            }
            for x in s["segments"]
        ]
        offset = s.get("offset_s")
        offset = None if offset is None else f"{round(offset, 2) + 0.0:.2f}"  # never "-0.00"
        suspects.append({**s, "offset_s": offset, "thumbs": thumbs, "rows": segments, "top": _top(s)})
    context = {"job": job, "report": report, "suspects": suspects, "reason": _reason(report)}
    return render_to_string("forensics/report.html", context, request=request)


@login_required
@require_GET
def trace_report(request: SignedInRequest, job_id: int) -> HttpResponse:
    job, report = _report(request, job_id)
    record(request, Action.TRACE_REPORT_VIEW, unit=job.unit_id, job=job.pk, verdict=report["verdict"])
    return HttpResponse(_report_page(request, job, report))


@login_required
@require_GET
def trace_report_pdf(request: SignedInRequest, job_id: int) -> HttpResponse:
    """The same report printed to PDF, for a regulator's file; audited like the JSON download."""
    job, report = _report(request, job_id)
    try:
        data = pdf.print_pdf(_report_page(request, job, report))
    except pdf.PdfError as e:
        messages.error(request, str(e))
        return redirect("trace_report", job_id=job.pk)
    record(request, Action.TRACE_REPORT_DOWNLOAD, unit=job.unit_id, job=job.pk, verdict=report["verdict"], format="pdf")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="cradle-trace-{job.pk}.pdf"'
    return response


def _bit(segment: dict) -> str | None:
    """The bit a segment row shows. Reports written before variant A was kept as "A" hold None for it; the sign of a
    readable z says which variant it was."""
    if segment.get("bit") is None and abs(segment["z"]) >= ERASURE_Z:
        return "A" if segment["z"] > 0 else "B"
    return segment.get("bit")


def _reason(report: dict) -> str:
    """The verdict's reason in the reader's language (older reports keep only the English sentence)."""
    args = report.get("reason_args") or {}
    match report.get("reason_code"):
        case "no_candidate":
            return _("no account received these segments")
        case "too_few":
            return _("too few readable segments (%(readable)d; at least %(needed)d are needed)") % args
        case "weak":
            return _("no account matches well enough (best: %(matches)d of %(readable)d)") % args
        case "tie":
            return _("two accounts match equally well (%(first)s, %(second)s)") % args
        case "match":
            return _("%(matches)d of %(readable)d readable segments match") % args
        case "consistent":
            strength = {"strong": _("strong"), "moderate": _("moderate"), "weak": _("weak")}[args["strength"]]
            return _(
                "consistent with %(account)s (%(strength)s evidence): %(matches)d of %(readable)d readable segments "
                "match; an innocent account matches as well with probability 1/%(odds)d; %(others)d other accounts "
                "were served these segments"
            ) % {**args, "strength": strength}
    return report.get("reason", "")


def _top(suspect: dict) -> list[str]:
    return list(suspect["segments"][0]["candidates"]) if suspect["segments"] else []


@login_required
@require_GET
def trace_report_json(request: SignedInRequest, job_id: int) -> HttpResponse:
    job, report = _report(request, job_id)
    record(request, Action.TRACE_REPORT_DOWNLOAD, unit=job.unit_id, job=job.pk, verdict=report["verdict"])
    response = HttpResponse(json.dumps(report, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="cradle-trace-{job.pk}.json"'
    return response


@login_required
@require_GET
def trace_code(request: SignedInRequest) -> HttpResponse:
    """Whose viewer code is this: the session and account behind a code seen on a keepsake or a screen recording,
    among the accounts of the officer's units; every look-up is audited, found or not."""
    units = scope.audited_unit_ids(request.user)
    if not units:
        raise Http404
    typed = request.GET.get("code", "")[:100]
    code = codes.normalise(typed) if typed else None
    found = None
    if code is not None:
        found = codes.owners(code, units)
        record(request, Action.TRACE_CODE_LOOKUP, code=code, accounts=sorted({o.account for o in found}))
    return render(
        request,
        "forensics/code.html",
        {"typed": typed, "code": code, "found": found, "invalid": bool(typed) and not code},
    )
