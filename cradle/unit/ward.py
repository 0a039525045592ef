"""The ward board for 3 a.m.: a tile per occupied bed with its small live picture and what the family sees, one tap
to pause; free beds in one compact line."""

from __future__ import annotations

import math
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cradle import scope
from cradle.accounts.models import DeviceSession
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit.forms import PauseForm
from cradle.unit.models import Admission, Bed, FamilyMembership
from cradle.viewing import states
from cradle.viewing.models import ServedVariant

# Family members who fetched a segment this recently are watching now.
WATCHING_SECONDS = 15
# The one-tap pause on the board: the commonest reason and length; the bed page offers every choice.
QUICK_PAUSE = ("care", 20)


@login_required
def board(request: SignedInRequest, unit_id: int) -> HttpResponse:
    unit = scope.get_nursed_unit(request.user, unit_id)
    active_family = FamilyMembership.objects.filter(revoked_at__isnull=True)
    admissions = Admission.objects.filter(discharged_at__isnull=True).prefetch_related(
        Prefetch("family", queryset=active_family, to_attr="active_family")
    )
    beds = (
        Bed.objects.filter(unit=unit)
        .select_related("camera")
        .prefetch_related(Prefetch("admissions", queryset=admissions, to_attr="current"))
    )
    online = set(
        DeviceSession.objects.filter(
            ended_at__isnull=True,
            user__family_memberships__admission__unit=unit,
            user__family_memberships__revoked_at__isnull=True,
        ).values_list("user_id", flat=True)
    )
    now = timezone.now()
    recent = ServedVariant.objects.filter(camera__bed__unit=unit, at__gte=now - timedelta(seconds=WATCHING_SECONDS))
    watching_by_camera: dict[int, set[int]] = {}
    for camera_id, user_id in recent.values_list("camera_id", "user_id"):
        watching_by_camera.setdefault(camera_id, set()).add(user_id)
    tiles, free = [], []
    for bed in beds:
        admission = bed.current[0] if bed.current else None
        camera = getattr(bed, "camera", None)
        if admission is None:
            free.append({"bed": bed, "camera": camera})
            continue
        members = {m.user_id for m in admission.active_family}
        picture = states.of_admission(admission, camera) if camera is not None else None
        minutes_left = 0
        if camera is not None and camera.is_paused:
            minutes_left = math.ceil((camera.paused_until - now).total_seconds() / 60)
        tiles.append(
            {
                "bed": bed,
                "camera": camera,
                "admission": admission,
                "picture": picture,
                "still": picture is not None and picture.plays,
                "minutes_left": minutes_left,
                "family": len(members),
                "online": len(members & online),
                "watching": len(members & watching_by_camera.get(getattr(camera, "pk", 0), set())),
            }
        )
    record(request, Action.UNIT_BOARD_VIEW, unit=unit)
    return render(
        request,
        "unit/board.html",
        {"unit": unit, "tiles": tiles, "free": free, "pause_form": PauseForm(), "quick_pause": QUICK_PAUSE},
    )
