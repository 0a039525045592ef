"""What every page needs to draw its navigation."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.http import HttpRequest

from cradle import scope
from cradle.accounts import signed_out
from cradle.unit.models import StaffMembership
from cradle.web import theme

Role = StaffMembership.Role


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    common = {"theme": theme.chosen(request)}
    if user is None or not user.is_authenticated:
        reason = getattr(request, "signed_out_reason", "")
        # A signed-out visitor is told why, on whatever page they land (sign-in, the baby's page they reloaded).
        return {**common, "signed_out": signed_out.words(reason) if reason else None}
    staff = list(StaffMembership.objects.filter(user=user).select_related("unit"))
    return {
        **common,
        # Family members are not forced to add a second factor, but every page asks until they do.
        "nav_needs_second_factor": not staff and not Authenticator.objects.filter(user=user).exists(),
        "nav_nursed_units": [m.unit for m in staff if m.role == Role.NURSE],
        "nav_audited_units": [m.unit for m in staff if m.role == Role.PRIVACY_OFFICER],
        "nav_administered_units": [m.unit for m in staff if m.role == Role.ADMINISTRATOR],
        "nav_family_admissions": [m.admission for m in scope.active_family(user).select_related("admission__bed")],
    }
