"""The unit administrator's page: the unit's settings, behind a fresh sign-in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from cradle import scope
from cradle.accounts.reauth import reauthentication_required
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit.forms import UnitSettingsForm
from cradle.unit.models import Unit


@login_required
def unit_settings(request: SignedInRequest, unit_id: int) -> HttpResponse:
    return _unit_settings(request, scope.get_administered_unit(request.user, unit_id))


@reauthentication_required
def _unit_settings(request: SignedInRequest, unit: Unit) -> HttpResponse:
    form = UnitSettingsForm(request.POST or None, instance=unit)
    if request.method == "POST" and form.is_valid():
        form.save()
        record(
            request,
            Action.UNIT_SETTINGS_CHANGED,
            unit=unit,
            **{f: form.cleaned_data[f] for f in form.changed_data},
        )
        messages.success(request, _("Settings saved. New sign-ins use them."))
        return redirect("unit_settings", unit_id=unit.pk)
    grace = unit.second_step_grace_until
    running = unit.family_second_step and grace is not None and grace > timezone.now()
    return render(request, "unit/settings.html", {"unit": unit, "form": form, "second_step_grace": running and grace})
