"""Every route x every kind of person x objects of both families.

The table below is checked against the URL configuration: a route added without an entry fails the suite, so the
matrix cannot fall behind the code. "ok" means the request got past authorisation (a page, a redirect onwards, a
request to re-authenticate); "login" means it was sent to sign in (401 for the API); 404 is out of scope.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cradle import scope
from tests.conftest import reauthenticated

ACTORS = [None, "parent_a", "relative_a", "parent_b", "nurse1", "nurse2", "privacy", "admin"]
SIGNED_IN = set(ACTORS) - {None}
NURSES = {"nurse1", "nurse2"}


@dataclass(frozen=True)
class Route:
    # kwargs for the URL, given the world and a family ("a" or "b"); None for a route without objects.
    kwargs: Callable | None = None
    # who gets past authorisation: a set of actors, or per family a set of actors
    allowed: object = frozenset()
    method: str = "get"
    # the request's data, or a function of the world and the family giving it (an object named in a form)
    data: dict | Callable | None = None
    anonymous: str = "login"  # what anonymous gets: "login", "ok" (public) or "404"


def fam(attr: str) -> Callable:
    def build(w, tag):
        f = w.families[tag]
        value = f
        for part in attr.split("."):
            value = getattr(value, part)
        return value

    return build


def kw(**getters: Callable) -> Callable:
    return lambda w, tag: {k: g(w, tag) for k, g in getters.items()}


ADMISSION = kw(admission_id=fam("admission.pk"))
UNIT = kw(unit_id=fam("unit.pk"))
BED = kw(bed_id=fam("bed.pk"))
RELATIVE = kw(membership_id=fam("relative_membership.pk"))
INVITATION = kw(invitation_id=fam("invitation_id"))
DEVICE = kw(public_id=fam("device.public_id"))
API_DEVICE = kw(device_id=fam("device.public_id"))
KEY = kw(pk=fam("webauthn_id"))
CAMERA = kw(camera_id=fam("bed.camera.pk"))
CLIP = kw(clip_id=fam("clip_id"))


def trace_job(w, tag):
    """A finished trace of the family's unit (an empty report: authorisation is what is checked here)."""
    from cradle.forensics.models import TraceJob

    report = {"verdict": "inconclusive", "reason": "-", "account": None, "candidates": [], "candidate_count": 0}
    job, _ = TraceJob.objects.get_or_create(
        unit=w.families[tag].unit, defaults={"status": "done", "report": {**report, "suspects": [], "audit_trail": []}}
    )
    return {"job_id": job.pk}


def alert_of(w, tag) -> int:
    """An alert of the family's unit (emergency access: acknowledging it changes nothing else)."""
    from cradle.audit.models import Alert

    alert, _ = Alert.objects.get_or_create(unit_id=w.families[tag].unit.pk, kind="break_glass")
    return alert.pk


def own_keepsake(w, tag):
    """A keepsake the family's parent asked for (still being made: authorisation is what is checked here)."""
    from cradle.viewing.models import Keepsake

    f = w.families[tag]
    keepsake, _ = Keepsake.objects.get_or_create(user=f.parent, clip_id=f.clip_id, defaults={"device": f.device})
    return {"keepsake_id": keepsake.pk}


def update_with_photo(w, tag):
    """A care-team update with a photo, of the family's baby."""
    import numpy as np
    from django.utils.timezone import now

    from cradle.updates import photos, sealed
    from cradle.updates.models import Update

    f = w.families[tag]
    update = Update.objects.filter(admission=f.admission, sent_at__isnull=False).first()
    if update is None:
        update = Update.objects.create(admission=f.admission, has_photo=True, photo_source="upload", sent_at=now())
        sealed.put_text(update, "a quiet night")
        sealed.put_photo(update, photos._jpeg(np.full((48, 64, 3), 128, np.uint8)))
    return {"update_id": update.pk}


def update_draft(w, tag):
    """A photo the family's nurse took for an update and has not sent yet."""
    import numpy as np

    from cradle.updates import photos, sealed
    from cradle.updates.models import Update
    from cradle.viewing import storage

    f = w.families[tag]
    nurse = w.users["nurse1" if tag == "a" else "nurse2"]
    draft = Update.objects.filter(admission=f.admission, sent_at__isnull=True).first()
    if draft is None:
        draft = Update.objects.create(admission=f.admission, author=nurse, has_photo=True, photo_source="live")
        storage.segment_store().admit(f.admission.media_id)
        sealed.put_photo(draft, photos._jpeg(np.full((48, 64, 3), 128, np.uint8)))
    return {"update_id": draft.pk}


WATCHERS = {"a": {"parent_a", "relative_a", "nurse1"}, "b": {"parent_b", "nurse2"}}
PARENTS = {"a": {"parent_a"}, "b": {"parent_b"}}
UNIT_NURSES = {"a": {"nurse1"}, "b": {"nurse2"}}
SLIP_READERS = {"a": {"parent_a", "nurse1"}, "b": {"parent_b", "nurse2"}}
PUBLIC = Route(allowed=SIGNED_IN, anonymous="ok")
SELF = Route(allowed=SIGNED_IN)

MATRIX: dict[str, Route] = {
    "home": SELF,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    # Open to the machine itself (the test client talks from 127.0.0.1, through no proxy) whoever signs in; any other
    # client needs the metrics token (tests/test_health.py).
    "metrics": PUBLIC,
    "set_language": Route(allowed=SIGNED_IN, anonymous="ok", method="post", data={"language": "zh-hans"}),
    "set_theme": Route(allowed=SIGNED_IN, anonymous="ok", method="post", data={"theme": "dark"}),
    # The installable app's service worker and its offline page: the same for everyone, naming nobody.
    "service_worker": PUBLIC,
    "offline": PUBLIC,
    "join": PUBLIC,
    "join_account": PUBLIC,
    "mfa_prompt": SELF,
    "profile": SELF,
    "devices": SELF,
    "end_device": Route(DEVICE, PARENTS, method="post"),
    "baby": Route(ADMISSION, WATCHERS),
    # Media answers 404, never a sign-in page, to anyone without the right session (tests/test_viewing.py has
    # segment addresses issued to real sessions).
    "live_playlist": Route(ADMISSION, WATCHERS, anonymous="404"),
    "segment": Route(lambda w, t: {"token": "not-a-ticket"}, set(), anonymous="404"),
    "segment_key": Route(lambda w, t: {"token": "not-a-ticket"}, set(), anonymous="404"),
    "clip": Route(CLIP, WATCHERS),
    # Care-team updates: nurses of the baby's unit write them; those who watch the baby see their photos (relatives
    # unless the parents chose otherwise); parents choose what relatives see.
    "compose_update": Route(ADMISSION, UNIT_NURSES),
    "update_photo": Route(update_with_photo, WATCHERS),
    # A photo not yet sent: its nurse only.
    "update_draft_photo": Route(update_draft, UNIT_NURSES),
    "update_relatives": Route(ADMISSION, PARENTS),
    "relative_view": Route(RELATIVE, PARENTS, method="post", data={"sees_updates": "no"}),
    # Each person's own notification choices and push subscriptions.
    "notification_choices": Route(allowed=SIGNED_IN, method="post", data={"clip": "on"}),
    "push_subscribe": Route(allowed=SIGNED_IN, method="post", data={"remove": "1"}),
    "clip_playlist": Route(CLIP, WATCHERS, anonymous="404"),
    # Asking for a keepsake reserves a place and queues the work (tests/test_keepsakes.py makes real ones); its
    # page, progress and file are the asking parent's alone.
    "keepsake": Route(CLIP, PARENTS, method="post"),
    "keepsake_page": Route(own_keepsake, PARENTS),
    "keepsake_status": Route(own_keepsake, PARENTS),
    "keepsake_download": Route(own_keepsake, PARENTS),
    # The player's state check: a signed-out browser is told it is signed out (and why, if its own cookie says so),
    # whatever the id; nothing about any baby.
    "live_status": Route(ADMISSION, WATCHERS, anonymous="ok"),
    "live_still": Route(ADMISSION, WATCHERS, anonymous="404"),
    "record_clip": Route(ADMISSION, UNIT_NURSES, method="post", data={"seconds": "15"}),
    "daily_clip": Route(CAMERA, UNIT_NURSES, method="post", data={"at": "18:30"}),
    "who_watched": Route(ADMISSION, PARENTS),
    "family": Route(ADMISSION, PARENTS),
    "family_invite": Route(ADMISSION, PARENTS, method="post"),
    "revoke_relative": Route(RELATIVE, PARENTS, method="post"),
    "end_member_sessions": Route(RELATIVE, UNIT_NURSES, method="post"),
    "units": Route(allowed=NURSES),
    "board": Route(UNIT, UNIT_NURSES),
    # Any nurse may ask for emergency access to any unit; it is reasoned, reported and short.
    "break_glass": Route(UNIT, {"a": NURSES, "b": NURSES}),
    "unit_settings": Route(UNIT, {"a": {"admin"}, "b": set()}),
    "cameras": Route(UNIT, {"a": {"admin"}, "b": set()}),
    "camera_edit": Route(CAMERA, {"a": {"admin"}, "b": set()}),
    "camera_check": Route(CAMERA, {"a": {"admin"}, "b": set()}, method="post"),
    "camera_retire": Route(CAMERA, {"a": {"admin"}, "b": set()}, method="post"),
    "zones": Route(CAMERA, UNIT_NURSES),
    "zones_frame": Route(CAMERA, UNIT_NURSES),
    "zones_save": Route(CAMERA, UNIT_NURSES, method="post"),
    "zones_undo": Route(CAMERA, UNIT_NURSES, method="post"),
    "feed_beds": Route(UNIT, {"a": {"admin"}, "b": set()}),
    "bed": Route(BED, UNIT_NURSES),
    "pause_camera": Route(CAMERA, UNIT_NURSES, method="post", data={"reason": "care", "minutes": "10"}),
    "resume_camera": Route(CAMERA, UNIT_NURSES, method="post"),
    "admit": Route(BED, UNIT_NURSES, method="post", data={"nickname": "x"}),
    "invite": Route(ADMISSION, UNIT_NURSES, method="post", data={"role": "relative"}),
    "discharge": Route(ADMISSION, UNIT_NURSES),
    "transfer": Route(ADMISSION, UNIT_NURSES),
    # Parents withdraw consent; the page after withdrawing everything is reached signed out, so it is public.
    "consent": Route(ADMISSION, PARENTS),
    "consent_withdrawn": PUBLIC,
    # Revealing a parent's or relative's contact details: nurses of the baby's unit, audited.
    "reveal_contact": Route(RELATIVE, UNIT_NURSES, method="post"),
    "invitation_slip": Route(INVITATION, SLIP_READERS),
    "revoke_invitation": Route(INVITATION, SLIP_READERS, method="post"),
    "audit_search": Route(allowed={"privacy"}),
    "audit_export": Route(allowed={"privacy"}),
    "alerts": Route(allowed={"privacy"}),
    # Leak tracing: the privacy officer of unit 1 only (unit 2 has none in the fixture).
    "traces": Route(allowed={"privacy"}),
    "trace_code": Route(allowed={"privacy"}),
    "trace_job": Route(trace_job, {"a": {"privacy"}, "b": set()}),
    "trace_status": Route(trace_job, {"a": {"privacy"}, "b": set()}),
    "trace_report": Route(trace_job, {"a": {"privacy"}, "b": set()}),
    "trace_report_json": Route(trace_job, {"a": {"privacy"}, "b": set()}),
    "trace_report_pdf": Route(trace_job, {"a": {"privacy"}, "b": set()}),
    # The sign-in pages of allauth: open to everyone (signed-in people are sent on).
    "account_login": PUBLIC,
    "account_logout": PUBLIC,
    "account_inactive": PUBLIC,
    "account_signup": PUBLIC,
    "account_reauthenticate": SELF,
    "account_email": SELF,
    "account_email_verification_sent": PUBLIC,
    "account_change_password": SELF,
    "account_set_password": SELF,
    "account_reset_password": PUBLIC,
    # Steps in the middle of a sign-in: without one under way they send the visitor back to sign in.
    "account_confirm_login_code": Route(allowed=SIGNED_IN),
    "account_confirm_email": Route(lambda w, t: {"key": "nonsense"}, SIGNED_IN, anonymous="ok"),
    "account_reset_password_from_key_done": PUBLIC,
    "account_reset_password_from_key": Route(
        lambda w, t: {"uidb36": "1", "key": "nonsense"}, SIGNED_IN, anonymous="ok"
    ),
    "account_reset_password_done": PUBLIC,
    "mfa_index": SELF,
    "mfa_authenticate": Route(allowed=SIGNED_IN),
    "mfa_reauthenticate": SELF,
    "mfa_activate_totp": SELF,
    # Pages about one's own second factors; 404 for someone who has none of that kind (relatives and staff have an
    # authenticator app, parents a passkey).
    "mfa_deactivate_totp": Route(allowed={"relative_a", "nurse1", "nurse2", "privacy", "admin"}),
    "mfa_view_recovery_codes": Route(allowed={"parent_a"}),
    "mfa_generate_recovery_codes": SELF,
    "mfa_download_recovery_codes": Route(allowed={"parent_a"}),
    "mfa_list_webauthn": SELF,
    "mfa_add_webauthn": SELF,
    "mfa_reauthenticate_webauthn": SELF,
    "mfa_remove_webauthn": Route(KEY, PARENTS),
    "mfa_edit_webauthn": Route(KEY, PARENTS),
    "mfa_login_webauthn": Route(allowed=SIGNED_IN),
    # The hospital's OpenID Connect sign-in (configured for this test, see HOSPITAL): the page that leads there is
    # for anyone; the way back, without a sign-in under way, is a refusal page (400) for anyone. Confirming at the
    # provider is only for accounts of the provider (nurse1 here); allauth's social-account pages are not mounted.
    # The provider's server posts back-channel logouts, with no session: anyone reaches it, and a post without a
    # valid logout token is refused (400).
    "hospital_login": PUBLIC,
    "hospital_callback": PUBLIC,
    "hospital_backchannel_logout": Route(allowed=SIGNED_IN, anonymous="ok", method="post"),
    "hospital_reauthenticate": Route(allowed={"nurse1"}),
    # The JSON API.
    "api:api-root": Route(allowed=set(), anonymous="404"),
    "api:openapi-json": PUBLIC,
    "api:me": SELF,
    "api:admissions": SELF,
    "api:admission": Route(ADMISSION, WATCHERS),
    "api:watchers": Route(ADMISSION, PARENTS),
    "api:family": Route(ADMISSION, PARENTS),
    "api:devices": SELF,
    "api:end_device": Route(API_DEVICE, PARENTS, method="post"),
}


# Routes whose objects are named in the request's data rather than its address: (route, what is checked).
BY_DATA: dict[str, tuple[str, Route]] = {
    "alerts: acknowledge an alert": (
        "alerts",
        Route(allowed={"a": {"privacy"}, "b": set()}, method="post", data=lambda w, t: {"alert": alert_of(w, t)}),
    ),
}


def route_names() -> list[str]:
    def walk(patterns, ns=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
                yield from walk(p.url_patterns, inner)
            elif isinstance(p, URLPattern):
                assert p.name, f"route {p.pattern} has no name, so it cannot be in the matrix"
                yield f"{ns}:{p.name}" if ns else p.name

    return list(walk(get_resolver().url_patterns))


def test_every_route_has_a_matrix_entry():
    names = route_names()
    missing = sorted(set(names) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(names))
    assert not missing, f"routes without an authorisation matrix entry: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def cells():
    routes = {**{name: (name, route) for name, route in MATRIX.items()}, **BY_DATA}
    for cell in sorted(routes):
        name, route = routes[cell]
        families = ["a", "b"] if route.kwargs or callable(route.data) else [None]
        for tag in families:
            for actor in ACTORS:
                yield cell, name, route, tag, actor


def expected(route: Route, tag: str | None, actor: str | None) -> str:
    if actor is None:
        return route.anonymous
    allowed = route.allowed[tag] if isinstance(route.allowed, dict) else route.allowed
    return "ok" if actor in allowed else "404"


def outcome(response) -> str:
    status = response.status_code
    assert status < 500, f"server error {status}"
    if status == 401:
        return "login"
    if status in (301, 302):
        target = response.headers["Location"]
        if target.startswith(reverse("account_login")):
            return "login"
        return "ok"
    if status == 404:
        return "404"
    assert status != 403, "out of scope must be a 404, not a 403"
    return "ok"


HOSPITAL = {
    "OIDC_ISSUER": "https://login.hospital.example",
    "OIDC_CLIENT_ID": "cradle",
    "OIDC_CLIENT_SECRET": "not used: no request reaches the provider here",
}


def test_authorisation_matrix(world, settings):
    from cradle.integrations.directory.models import DirectoryIdentity

    settings.DIRECTORY = {**settings.DIRECTORY, **HOSPITAL}
    DirectoryIdentity.objects.create(
        user=world.users["nurse1"], source="oidc", issuer=HOSPITAL["OIDC_ISSUER"], subject="nurse1", login="nurse1"
    )
    checked = 0
    failures = []
    # Everyone signs in once. Each cell then starts from the same cookies, and runs in a savepoint that is rolled back,
    # so that a revocation, a sign-out or a new session key in one cannot change the next.
    clients = {actor: world.client(actor) for actor in ACTORS}
    cookies = {actor: copy.deepcopy(client.cookies) for actor, client in clients.items()}
    for cell, name, route, tag, actor in cells():
        kwargs = route.kwargs(world, tag) if route.kwargs else {}
        url = reverse(name, kwargs=kwargs)
        sid = transaction.savepoint()
        try:
            client = clients[actor]
            client.cookies = copy.deepcopy(cookies[actor])
            if actor is not None:
                reauthenticated(client, world.users[actor])  # as fresh as a sign-in just before the request
            data = route.data(world, tag) if callable(route.data) else route.data
            response = getattr(client, route.method)(url, data or {})
            got = outcome(response)
        finally:
            transaction.savepoint_rollback(sid)
        want = expected(route, tag, actor)
        if got != want:
            failures.append(
                f"{cell} [{tag or '-'}] as {actor or 'anonymous'}: expected {want}, got {got}"
                f" ({response.status_code} {response.headers.get('Location', '')})"
            )
        checked += 1
    print(f"authorisation matrix: {len(MATRIX)} routes, {checked} cells")
    assert not failures, "\n".join(failures)


def _who_watched(user, admission_id: int):
    """cradle.audit.watching.who_watched, which the page and the API share, for a request of this user."""
    from django.test import RequestFactory

    from cradle.audit import watching

    request = RequestFactory().get("/")
    request.user = user
    return watching.who_watched(request, admission_id)


# The getters of cradle.scope (and the functions built on them) that the privacy office's pages and who-watched
# fetch their objects through: every person x the objects of both families. The routes above reach them too; this
# keeps each getter honest on its own, whatever route uses it next.
GETTERS: dict[str, tuple[Callable, Callable, dict]] = {
    "scope.get_audited_trace_job": (
        scope.get_audited_trace_job,
        lambda w, t: trace_job(w, t)["job_id"],
        {"a": {"privacy"}, "b": set()},
    ),
    "scope.get_audited_alert": (
        scope.get_audited_alert,
        alert_of,
        {"a": {"privacy"}, "b": set()},
    ),
    "scope.get_parent_admission": (
        scope.get_parent_admission,
        lambda w, t: w.families[t].admission.pk,
        PARENTS,
    ),
    "watching.who_watched": (_who_watched, lambda w, t: w.families[t].admission.pk, PARENTS),
}


def test_scope_getters_matrix(world):
    from django.contrib.auth.models import AnonymousUser
    from django.http import Http404

    failures = []
    for name, (getter, obj, allowed) in GETTERS.items():
        for tag in ("a", "b"):
            pk = obj(world, tag)
            for actor in ACTORS:
                user = world.users[actor] if actor else AnonymousUser()
                try:
                    getter(user, pk)
                    got = "ok"
                except Http404:
                    got = "404"
                want = "ok" if actor in allowed[tag] else "404"
                if got != want:
                    failures.append(f"{name} [{tag}] as {actor or 'anonymous'}: expected {want}, got {got}")
    assert not failures, "\n".join(failures)


def test_the_privacy_offices_lists_hold_only_their_units_objects(world):
    from django.contrib.auth.models import AnonymousUser
    from django.http import Http404

    jobs = {tag: trace_job(world, tag)["job_id"] for tag in ("a", "b")}
    alerts = {tag: alert_of(world, tag) for tag in ("a", "b")}
    privacy = world.users["privacy"]
    assert set(scope.audited_trace_jobs(privacy).values_list("pk", flat=True)) == {jobs["a"]}
    assert set(scope.audited_alerts(privacy).values_list("pk", flat=True)) == {alerts["a"]}
    for actor in set(ACTORS) - {"privacy"}:
        user = world.users[actor] if actor else AnonymousUser()
        for listing in (scope.audited_trace_jobs, scope.audited_alerts):
            try:
                listing(user)
            except Http404:
                continue
            raise AssertionError(f"{listing.__name__} as {actor or 'anonymous'}: not a 404")
