"""The zone editor: on a frozen, redacted picture of the camera a nurse draws the shown area (the allow-list: all
outside it is masked on every frame) and extra mask zones, sees the result, and saves. The worker applies the file
to the running stream within a second (cradle.worker.camera_run.CameraRun.refresh). Every save is audited with the
settings before and after, and the last one can be undone.

No raw frame is shown for this: the frozen picture has detected text masked (and outlined); only the shown area
and zones are left off it, so that the nurse sees what to draw around.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.media.errors import MediaError
from cradle.media.redact import CameraPolicy
from cradle.request import SignedInRequest
from cradle.unit.models import Camera

_NO_STORE = {"Cache-Control": "no-store, private"}
MAX_ZONES = 20
MAX_POINTS = 64


def _drawn(policy: CameraPolicy) -> dict:
    """The part of a camera's settings the editor draws, as stored in its file."""
    area = policy.shown_area
    return {
        "shown_area": None if area is None else [list(p) for p in area],
        "zones": [[list(p) for p in zone] for zone in policy.zones],
    }


def _policy(camera: Camera) -> CameraPolicy:
    from cradle.viewing.camera_config import camera_policy

    return camera_policy(camera.pk)


def _path(camera: Camera) -> Path | None:
    from cradle.viewing.camera_config import policy_path

    return policy_path(camera.pk)


@login_required
def zones(request: SignedInRequest, camera_id: int) -> HttpResponse:
    camera = scope.get_nursed_camera(request.user, camera_id)
    from cradle.viewing.camera_config import delivery

    settings = delivery(camera)
    return render(
        request,
        "unit/zones.html",
        {
            "camera": camera,
            "drawn": _drawn(_policy(camera)),
            "writable": _path(camera) is not None,
            "undo": _last_change(camera) is not None,
            "width": settings.width,
            "height": settings.height,
        },
    )


@never_cache
@login_required
def zones_frame(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """The frozen picture to draw on: one picture from the camera, redacted without the shown area and zones (detected
    text masked and outlined), as JPEG; 503 with one line when the camera gives none."""
    from cradle.media.camera_check import check_camera
    from cradle.unit.cameras import check_pool
    from cradle.viewing.camera_config import delivery

    camera = scope.get_nursed_camera(request.user, camera_id)
    settings = delivery(camera)
    policy = replace(_policy(camera), shown_area=None, zones=())
    result = check_camera(camera.connect_url, policy, check_pool(), settings.width, settings.height)
    record(request, Action.CAMERA_ZONE_PICTURE, unit=camera.at_bed.unit_id, bed=camera.at_bed.label, camera=camera.pk,
           ok=result.ok)  # fmt: skip
    if not result.ok or result.picture is None:
        return HttpResponse(result.failure, status=503, content_type="text/plain; charset=utf-8", headers=_NO_STORE)
    return HttpResponse(result.picture, content_type="image/jpeg", headers=_NO_STORE)


def _validated(data: object) -> CameraPolicy:
    """The drawn shapes as a policy (the camera's other settings come from its file); MediaError when malformed."""
    if not isinstance(data, dict):
        raise MediaError(_("The drawing could not be read; please draw it again."))
    area, zones = data.get("shown_area"), data.get("zones") or []
    if not isinstance(zones, list) or len(zones) > MAX_ZONES:
        raise MediaError(_("Draw at most %(n)d mask zones.") % {"n": MAX_ZONES})
    try:
        shapes = [*([] if area is None else [area]), *zones]
        if any(not isinstance(s, list) or len(s) > MAX_POINTS for s in shapes):
            raise ValueError
        polygon = lambda points: tuple((float(x), float(y)) for x, y in points)  # noqa: E731
        return CameraPolicy(shown_area=None if area is None else polygon(area), zones=tuple(polygon(z) for z in zones))
    except (TypeError, ValueError):
        raise MediaError(_("The drawing could not be read; please draw it again.")) from None


def _write(camera: Camera, drawn: dict) -> None:
    """Writes the camera's file with the drawn shapes, keeping its other settings; replaced whole, never half
    written (the worker may read it at any moment)."""
    path = _path(camera)
    assert path is not None
    current: dict = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            current = {}
    current = {k: v for k, v in current.items() if k not in ("shown_area", "zones")}
    if drawn["shown_area"] is not None:
        current["shown_area"] = drawn["shown_area"]
    if drawn["zones"]:
        current["zones"] = drawn["zones"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(current, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _last_change(camera: Camera) -> Event | None:
    """The newest change of this camera's zones that has not been undone (undoing one is a change that names it)."""
    stack: list[Event] = []
    for event in Event.objects.filter(action=Action.CAMERA_ZONES_CHANGED, detail__camera=camera.pk).order_by("seq"):
        undone = event.detail.get("undo_of")
        if undone is None:
            stack.append(event)
        elif stack and stack[-1].seq == undone:
            stack.pop()
    return stack[-1] if stack else None


def _save(request: HttpRequest, camera: Camera, drawn: dict, *, undo_of: int | None = None) -> JsonResponse:
    before = _drawn(_policy(camera))
    _write(camera, drawn)
    detail = {"camera": camera.pk, "bed": camera.at_bed.label, "before": before, "after": drawn}
    if undo_of is not None:
        detail["undo_of"] = undo_of
    record(request, Action.CAMERA_ZONES_CHANGED, unit=camera.at_bed.unit_id, **detail)
    return JsonResponse({"ok": True, "drawn": drawn, "undo": _last_change(camera) is not None}, headers=_NO_STORE)


@login_required
@require_POST
def zones_save(request: SignedInRequest, camera_id: int) -> HttpResponse:
    camera = scope.get_nursed_camera(request.user, camera_id)
    if _path(camera) is None:
        return JsonResponse({"ok": False, "error": _("Zones cannot be saved: CRADLE_CAMERA_CONFIG_DIR is not set.")},
                            status=409)  # fmt: skip
    try:
        policy = _validated(json.loads(request.POST.get("drawn", "")))
    except (ValueError, MediaError) as e:
        message = str(e) if isinstance(e, MediaError) else _("The drawing could not be read; please draw it again.")
        return JsonResponse({"ok": False, "error": message}, status=400)
    return _save(request, camera, _drawn(policy))


@login_required
@require_POST
def zones_undo(request: SignedInRequest, camera_id: int) -> HttpResponse:
    """Puts back the shown area and zones as they were before the last change (audited as a change of its own)."""
    camera = scope.get_nursed_camera(request.user, camera_id)
    last = _last_change(camera)
    if last is None or _path(camera) is None:
        return JsonResponse({"ok": False, "error": _("There is no change to undo.")}, status=409)
    return _save(request, camera, last.detail["before"], undo_of=last.seq)
