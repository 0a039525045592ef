"""Camera set-up for administrators: add, edit, check and retire a unit's cameras, with each camera's health.

A camera's user name and password are sealed apart from its address (Camera.save) and never shown or audited; the
check connects, redacts one picture as the pipeline would and shows only that, with the masked areas outlined.
"""

from __future__ import annotations

import base64
import threading

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.accounts import secretbox
from cradle.accounts.reauth import reauthentication_required
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.media.redact import DetectorPool
from cradle.request import SignedInRequest
from cradle.unit.forms import CameraForm
from cradle.unit.models import CAMERA_SECRET_PURPOSE, Camera, Unit

_FIELDS = ("source_url", "width", "height", "fps")

_pool: DetectorPool | None = None
_pool_lock = threading.Lock()


def check_pool() -> DetectorPool:
    """The detectors the checks of this web process share, loaded at the first check."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from cradle.media.redact.pool import default_detectors

            _pool = DetectorPool(default_detectors(), workers=1)
        return _pool


@login_required
def cameras(request: SignedInRequest, unit_id: int) -> HttpResponse:
    return _cameras(request, scope.get_administered_unit(request.user, unit_id))


@reauthentication_required
def _cameras(request: HttpRequest, unit: Unit) -> HttpResponse:
    form = CameraForm(request.POST or None, unit=unit)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            camera = Camera(bed=data["bed"], **{f: data[f] for f in _FIELDS})
            credentials = form.credentials()
            if credentials:
                camera.source_credentials = secretbox.seal(credentials, CAMERA_SECRET_PURPOSE)
            camera.save()  # audited as camera.created, without its address
        record(request, Action.CAMERA_SET_UP, unit=unit, camera=camera.pk, bed=camera.at_bed.label,
               **_settings(camera))  # fmt: skip
        messages.success(request, _("Camera added at bed %(bed)s. Check it below.") % {"bed": camera.at_bed.label})
        return redirect("camera_edit", camera_id=camera.pk)
    rows = Camera.objects.filter(bed__unit=unit).select_related("bed").order_by("bed__label")
    return render(request, "unit/cameras.html", {"unit": unit, "form": form, "cameras": rows})


def _settings(camera: Camera) -> dict:
    """What the audit keeps of a camera's set-up: the address without credentials, and what it delivers."""
    return {"address": camera.source_url, "width": camera.width, "height": camera.height, "fps": camera.fps,
            "credentials": camera.has_credentials}  # fmt: skip


@login_required
def camera_edit(request: SignedInRequest, camera_id: int) -> HttpResponse:
    return _camera_edit(request, scope.get_administered_camera(request.user, camera_id))


@reauthentication_required
def _camera_edit(request: HttpRequest, camera: Camera) -> HttpResponse:
    unit = camera.at_bed.unit
    initial = {"bed": camera.bed, "source_url": camera.source_url, "width": camera.width or 640,
               "height": camera.height or 480, "fps": camera.fps or 15}  # fmt: skip
    form = CameraForm(request.POST or None, unit=unit, camera=camera, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        before = _settings(camera) | {"bed": camera.at_bed.label}
        credentials = form.credentials()
        if credentials is not None and credentials.endswith(":") and camera.has_credentials and data.get("username"):
            # A user name typed with no password keeps the stored password.
            stored = secretbox.unseal(camera.source_credentials, CAMERA_SECRET_PURPOSE)
            credentials += stored.partition(":")[2]
        camera.bed = data["bed"]
        for field in _FIELDS:
            setattr(camera, field, data[field])
        if credentials is not None:
            camera.source_credentials = secretbox.seal(credentials, CAMERA_SECRET_PURPOSE) if credentials else ""
        camera.save()
        after = _settings(camera) | {"bed": camera.bed.label}
        changed = {k: after[k] for k in after if after[k] != before[k]}
        if credentials is not None:
            changed["credentials"] = "removed" if not credentials else "changed"
        record(request, Action.CAMERA_CHANGED, unit=unit, camera=camera.pk, before=before, after=changed)
        messages.success(request, _("Camera saved. The worker uses the new settings within a few seconds."))
        return redirect("camera_edit", camera_id=camera.pk)
    return render(request, "unit/camera_edit.html", {"unit": unit, "camera": camera, "form": form})


@login_required
@require_POST
def camera_check(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """Connects to the camera and shows one picture, redacted as families would get it, masked areas outlined."""
    from cradle.media.camera_check import check_camera
    from cradle.viewing.camera_config import camera_policy, delivery

    camera = scope.get_administered_camera(request.user, camera_id)
    settings = delivery(camera)
    result = check_camera(camera.connect_url, camera_policy(camera.pk), check_pool(), settings.width, settings.height)
    record(request, Action.CAMERA_CHECKED, unit=camera.at_bed.unit_id, camera=camera.pk, ok=result.ok,
           failure=result.failure, masked_areas=result.masked_areas)  # fmt: skip
    picture = base64.b64encode(result.picture).decode() if result.picture else ""
    response = render(
        request,
        "unit/camera_check.html",
        {"unit": camera.at_bed.unit, "camera": camera, "result": result, "picture": picture, "settings": settings},
    )
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
def camera_retire(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """Takes a camera out of service: it stops, its bed is free for another camera; its clips stay with the family."""
    camera = scope.get_administered_camera(request.user, camera_id)
    unit, bed = camera.at_bed.unit, camera.at_bed.label
    Camera.objects.filter(pk=camera.pk).update(
        bed=None, retired_at=timezone.now(), state=Camera.State.OFFLINE, seen_at=None, paused_until=None
    )
    record(request, Action.CAMERA_RETIRED, unit=unit, camera=camera.pk, bed=bed)
    messages.success(request, _("The camera at bed %(bed)s is retired.") % {"bed": bed})
    return redirect("cameras", unit_id=unit.pk)
