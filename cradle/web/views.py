"""The landing page: each person goes where their role starts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cradle import scope
from cradle.request import SignedInRequest
from cradle.unit.models import StaffMembership
from cradle.web.attention import for_units as attention_for

Role = StaffMembership.Role


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    user = request.user
    admissions = list(scope.watchable_admissions(user).filter(pk__in=scope.active_family(user).values("admission_id")))
    if len(admissions) == 1 and not scope.is_staff(user):
        return redirect("baby", admission_id=admissions[0].pk)
    units = scope.staff_unit_ids(user, Role.NURSE, break_glass=False)
    if units and not admissions:
        return redirect("board", unit_id=min(units))
    audited = scope.audited_unit_ids(user)
    attention = attention_for(audited) if audited else None
    return render(request, "web/home.html", {"admissions": admissions, "attention": attention})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)
