"""The JSON API for a future mobile app. It uses the same scoping functions as the pages."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.security import django_auth

from cradle import scope
from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit import watching
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.request import SignedInRequest
from cradle.unit.models import Admission, StaffMembership
from cradle.viewing import states

# No interactive docs: they would load their scripts from a CDN. The schema is at /api/v1/openapi.json.
api = NinjaAPI(title="Cradle API", version="1", auth=django_auth, docs_url=None, urls_namespace="api")


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404):
    """Anything outside the person's scope is a 404, and the refused look-up is audited, as on the pages."""
    if request.user.is_authenticated:
        record(request, Action.ACCESS_DENIED, outcome="denied", path=request.path[:200], via="api")
    return api.create_response(request, {"detail": "Not Found"}, status=404)


class Me(Schema):
    username: str
    display_name: str
    staff_roles: list[str]
    family_admissions: list[int]


class AdmissionOut(Schema):
    id: int
    label: str
    bed: str
    # What the camera last reported; a worker that died leaves "live" behind, so show picture_state to people.
    camera_state: str
    # What the family is told about the picture now (cradle.viewing.states): live, paused, checking, unavailable,
    # no_camera, stopped, discharged or ended.
    picture_state: str
    admitted_at: datetime
    # The unit shows no picture to this account until it has a second sign-in step (passkey or authenticator app).
    second_step_needed: bool
    # The account has none yet and may watch until then (the unit's grace period); null otherwise.
    second_step_by: datetime | None


class WatchOut(Schema):
    """One viewing, as the parents' "Who watched" page shows it (cradle.audit.watching)."""

    who: str
    # A member of the baby's care team.
    staff: bool
    # How: baby (the baby's page), live, clip, update (a care-team photo).
    kind: str
    # From the first fetch of the viewing to its last.
    start: datetime
    end: datetime


class MemberOut(Schema):
    id: int
    display_name: str
    role: str
    since: datetime


class DeviceOut(Schema):
    id: str
    created_at: datetime
    last_seen_at: datetime
    ip: str | None
    user_agent: str
    current: bool


class Problem(Schema):
    detail: str


def _admission_out(request: SignedInRequest, a: Admission) -> AdmissionOut:
    camera = getattr(a.bed, "camera", None)
    second_step = scope.second_step_standing(request.user, a)
    return AdmissionOut(
        id=a.pk,
        label=a.label,
        bed=a.bed.label,
        camera_state=camera.shown_state if camera else "none",
        picture_state=states.of_admission(a, camera).code,
        admitted_at=a.admitted_at,
        second_step_needed=second_step.refused,
        second_step_by=second_step.grace_until,
    )


@api.get("/me", response=Me, tags=["account"])
def me(request: SignedInRequest):
    u = request.user
    return Me(
        username=u.username,
        display_name=u.display_name,
        staff_roles=sorted(set(StaffMembership.objects.filter(user=u).values_list("role", flat=True))),
        family_admissions=list(scope.active_family(u).values_list("admission_id", flat=True)),
    )


@api.get("/admissions", response=list[AdmissionOut], tags=["babies"])
def admissions(request: SignedInRequest):
    return [_admission_out(request, a) for a in scope.watchable_admissions(request.user).order_by("pk")]


@api.get("/admissions/{admission_id}", response={200: AdmissionOut, 404: Problem}, tags=["babies"])
def admission(request: SignedInRequest, admission_id: int):
    a = scope.get_watchable_admission(request.user, admission_id)
    out = _admission_out(request, a)
    if out.second_step_needed:
        record(request, Action.BABY_VIEW, admission=a, via="api", outcome="denied", reason=scope.SECOND_STEP_NEEDED)
    else:
        record(request, Action.BABY_VIEW, admission=a, via="api")
    return out


@api.get("/admissions/{admission_id}/watchers", response={200: list[WatchOut], 404: Problem}, tags=["babies"])
def watchers(request: SignedInRequest, admission_id: int, limit: int = 100):
    """The newest viewings of the baby (at most `limit`, up to 500), grouped as on the parents' page."""
    viewings = watching.who_watched(request, admission_id, via="api")
    return [
        WatchOut(who=w.who, staff=viewings.by_staff(w), kind=w.kind, start=w.start, end=w.end)
        for w in viewings.watches[: max(1, min(limit, 500))]
    ]


@api.get("/admissions/{admission_id}/family", response={200: list[MemberOut], 404: Problem}, tags=["babies"])
def family(request: SignedInRequest, admission_id: int):
    a = scope.get_parent_admission(request.user, admission_id)
    members = a.family.filter(revoked_at__isnull=True).select_related("user").order_by("created_at")
    return [MemberOut(id=m.pk, display_name=m.user.display_name, role=m.role, since=m.created_at) for m in members]


@api.get("/devices", response=list[DeviceOut], tags=["account"])
def devices(request: SignedInRequest):
    current = getattr(request.device_session, "pk", None)
    rows = DeviceSession.objects.filter(user=request.user, ended_at__isnull=True).order_by("-last_seen_at")
    return [
        DeviceOut(
            id=d.public_id,
            created_at=d.created_at,
            last_seen_at=d.last_seen_at,
            ip=d.ip,
            user_agent=d.user_agent,
            current=d.pk == current,
        )
        for d in rows
    ]


@api.post("/devices/{device_id}/end", response={204: None, 404: Problem}, tags=["account"])
def end_device(request: SignedInRequest, device_id: str):
    device = scope.get_own_device_session(request.user, device_id)
    sessions.end(device, DeviceSession.EndReason.BY_USER)
    record(request, Action.ACCOUNT_SESSION_ENDED, ended=device.public_id, via="api")
    return Status(204, None)
