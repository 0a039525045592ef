"""Every state a parent can meet is said in words; the player learns each from a cheap, separately audited check.

Before, after discharge, sign-out or a stopped feed the baby's page stayed on a black player under a green "camera
live" badge; the paused card stayed for ever; a reload landed on a bare sign-in page; and the player's 2-second check
was logged as "opened the baby's page", about 20 rows of "Who watched" for a minute and a half of watching.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle import lifecycle
from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.audit.watching import watches
from cradle.unit.models import Camera
from cradle.viewing.models import LiveSegment
from tests.conftest import sign_in


def _segment(fam, *, age: float = 0.5, screened: int = 0, screen: str = "", frames: int = 15) -> None:
    """The newest segment of the family's camera, made `age` seconds ago."""
    camera = fam.bed.camera
    newest = LiveSegment.objects.filter(camera=camera).order_by("-index").first()
    LiveSegment.objects.create(
        camera=camera,
        admission=fam.admission,
        index=(newest.index + 1) if newest else 0,
        started_at=timezone.now() - timedelta(seconds=age + 1),
        created_at=timezone.now() - timedelta(seconds=age),
        duration=1.0,
        frames=frames,
        screened=screened,
        screen=screen,
    )


def _status(client: Client, fam, **extra) -> dict:
    response = client.get(reverse("live_status", args=[fam.admission.pk]), **extra)
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    return response.json()


def _page(client: Client, fam) -> str:
    return client.get(reverse("baby", args=[fam.admission.pk])).content.decode()


def test_fresh_picture_is_live_and_the_page_opens_with_the_player(world):
    fam = world.families["a"]
    _segment(fam)
    parent = world.client("parent_a")
    assert _status(parent, fam)["code"] == "live"
    page = _page(parent, fam)
    assert 'data-state="live"' in page and "data-playlist" in page and 'class="state-card hidden"' in page


def test_a_dead_worker_leaves_no_live_badge_behind(world):
    # The camera still says "live" (the worker that would mark it offline died); its newest segment is 20 s old.
    fam = world.families["a"]
    Camera.objects.filter(pk=fam.bed.camera.pk).update(state=Camera.State.LIVE)
    _segment(fam, age=20)
    state = _status(world.client("parent_a"), fam)
    assert state["code"] == "unavailable" and state["plays"] and not state["final"]
    assert "no picture from the camera" in state["text"]


def test_no_segment_at_all_is_camera_unavailable(world):
    fam = world.families["a"]
    LiveSegment.objects.filter(admission=fam.admission).delete()
    assert _status(world.client("parent_a"), fam)["code"] == "unavailable"


def test_a_picture_redaction_could_not_vouch_for_is_being_checked_in_the_readers_language(world):
    fam = world.families["a"]
    _segment(fam, screened=15, screen="checking")
    english = _status(world.client("parent_a"), fam)
    assert english["code"] == "checking" and english["title"] == "The picture is being checked"
    assert "cared for" not in english["text"]
    chinese = _status(world.client("parent_a"), fam, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert chinese["title"] == "画面正在检查中"
    # A few screened frames in a second of picture are not a screen.
    _segment(fam, screened=3, screen="checking")
    assert _status(world.client("parent_a"), fam)["code"] == "live"


def test_a_lost_camera_says_so_rather_than_being_checked(world):
    fam = world.families["a"]
    _segment(fam, screened=15, screen="no_picture")
    assert _status(world.client("parent_a"), fam)["code"] == "unavailable"


def test_a_pause_says_why_and_until_when_and_ends_by_itself(world):
    fam = world.families["a"]
    _segment(fam, screened=15, screen="paused")
    until = timezone.now() + timedelta(minutes=20)
    Camera.objects.filter(pk=fam.bed.camera.pk).update(paused_until=until, pause_reason="family")
    state = _status(world.client("parent_a"), fam)
    assert state["code"] == "paused" and state["plays"]
    assert "as the family asked" in state["text"] and timezone.localtime(until).strftime("%H:%M") in state["text"]
    Camera.objects.filter(pk=fam.bed.camera.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    # Resumed, while the newest second is still the paused screen: not "being checked".
    state = _status(world.client("parent_a"), fam)
    assert state["code"] == "paused" and "coming back" in state["text"]
    _segment(fam)
    assert _status(world.client("parent_a"), fam)["code"] == "live"


def test_times_follow_the_viewers_time_zone(world):
    fam = world.families["a"]
    until = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1)
    Camera.objects.filter(pk=fam.bed.camera.pk).update(paused_until=until, pause_reason="care")
    parent = world.client("parent_a")
    parent.cookies["cradle_tz"] = "Asia/Shanghai"  # UTC+8, as the phone's own clock says
    assert "20:00" in _status(parent, fam)["text"]
    parent.cookies["cradle_tz"] = "../../etc/passwd"  # not a zone: the unit's time (UTC in tests)
    assert "12:00" in _status(parent, fam)["text"]


def test_live_stopped_by_the_parents_is_final(world):
    fam = world.families["a"]
    lifecycle.withdraw_live(fam.admission)
    state = _status(world.client("relative_a"), fam)
    assert state["code"] == "stopped" and state["final"] and not state["plays"]


def test_discharge_tells_an_open_player_why_and_the_reload_explains_too(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    _segment(fam)
    assert _status(parent, fam)["code"] == "live"
    lifecycle.discharge(fam.admission)
    state = _status(parent, fam)
    assert state["code"] == "discharged" and state["final"]
    assert state["href"].startswith(reverse("account_login"))
    # The stale session cookie is dropped by that answer; a reload still explains.
    reload = parent.get(reverse("baby", args=[fam.admission.pk]), follow=True)
    page = reload.content.decode()
    assert reload.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert 'id="signed-out"' in page and "Your baby has been discharged" in page
    # Signed in again, the page says until when the clips stay.
    sign_in(parent, fam.parent)
    assert _status(parent, fam)["code"] == "discharged"
    page = _page(parent, fam)
    fam.admission.refresh_from_db()
    assert 'data-state="discharged"' in page and "<video" not in page
    assert "moved on" not in page and "gone home or moved to another hospital" in page
    assert 'id="signed-out"' not in page


def test_signed_out_from_another_device_is_said_on_the_player_and_after_a_reload(world):
    fam = world.families["a"]
    phone, laptop = world.client("parent_a"), Client()
    sign_in(laptop, fam.parent)
    device = DeviceSession.objects.get(session_key=phone.session.session_key)
    laptop.post(reverse("end_device", args=[device.public_id]))
    state = _status(phone, fam)
    assert state["code"] == "signed_out_elsewhere" and state["final"]
    assert "another of your devices" in state["text"]
    page = phone.get(reverse("baby", args=[fam.admission.pk]), follow=True).content.decode()
    assert "Signed out from another device" in page


def test_a_removed_relative_is_told_access_has_ended(world):
    fam = world.families["a"]
    relative = world.client("relative_a")
    world.client("parent_a").post(reverse("revoke_relative", args=[fam.relative_membership.pk]))
    state = _status(relative, fam)
    assert state["code"] == "ended" and state["final"]


def test_a_check_that_lands_while_the_relatives_sessions_end_is_told_access_has_ended(world, monkeypatch):
    """The player's check can arrive at any moment of the removal: when the session is already gone, the reason must
    already be written, or the page says "signed out" and stops there."""
    from django.contrib.sessions.backends.db import SessionStore

    fam = world.families["a"]
    relative = world.client("relative_a")
    told = []
    delete = SessionStore.delete

    def delete_then_check(self, session_key=None):
        delete(self, session_key)
        told.append(_status(relative, fam)["code"])

    monkeypatch.setattr(SessionStore, "delete", delete_then_check)
    world.client("parent_a").post(reverse("revoke_relative", args=[fam.relative_membership.pk]))
    # "live" while another of the relative's devices is ended before this browser's; never "signed out".
    assert "ended" in told and set(told) <= {"live", "ended"}, told


def test_a_browser_that_never_signed_in_is_told_only_that_it_is_signed_out(world):
    for tag in ("a", "b"):
        state = _status(Client(), world.families[tag])
        assert state["code"] == "signed_out" and state["title"] == "You are signed out"


def test_another_familys_status_is_a_404(world):
    response = world.client("parent_b").get(reverse("live_status", args=[world.families["a"].admission.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("checks", [1, 30])
def test_status_checks_are_audited_on_their_own_and_who_watched_counts_viewings(world, checks):
    fam = world.families["a"]
    _segment(fam)
    parent = world.client("parent_a")
    parent.get(reverse("baby", args=[fam.admission.pk]))
    for _ in range(checks):
        _status(parent, fam)
    audited = Event.objects.filter(action="baby.status", actor_id=fam.parent.pk, admission_id=fam.admission.pk)
    assert audited.count() == checks
    assert audited.first().detail == {"state": "live"}
    mine = [w for w in watches(fam.admission.pk) if w.actor_id == fam.parent.pk]
    assert [w.kind for w in mine] == ["baby"]
    page = parent.get(reverse("who_watched", args=[fam.admission.pk])).content.decode()
    assert page.count("opened the baby&#x27;s page") + page.count("opened the baby's page") == 1


def test_openings_of_the_page_in_one_session_fold_into_one_viewing_until_a_long_pause(world):
    from cradle.audit import chain

    fam = world.families["a"]
    parent = world.client("parent_a")
    for _ in range(3):
        parent.get(reverse("baby", args=[fam.admission.pk]))
    assert len([w for w in watches(fam.admission.pk) if w.actor_id == fam.parent.pk]) == 1
    # The same session opens the page again an hour later: a second viewing.
    opened = Event.objects.filter(action="baby.view", actor_id=fam.parent.pk).order_by("seq").last()
    fields = {f: getattr(opened, f) for f in ("actor_id", "actor_name", "action", "unit_id", "admission_id", "ip")}
    chain.append(**fields, at=opened.at + timedelta(hours=1), session=opened.session, outcome="ok", detail={})
    assert len([w for w in watches(fam.admission.pk) if w.actor_id == fam.parent.pk]) == 2


def test_the_api_gives_the_same_honest_state_as_the_page(world):
    fam = world.families["a"]
    # The camera reports live, with a fresh heartbeat, yet its newest segment is 30 s old.
    Camera.objects.filter(pk=fam.bed.camera.pk).update(state=Camera.State.LIVE, seen_at=timezone.now())
    _segment(fam, age=30)
    out = world.client("parent_a").get(reverse("api:admission", args=[fam.admission.pk])).json()
    assert out["camera_state"] == "live" and out["picture_state"] == "unavailable"


def test_state_checks_after_the_first_take_the_fast_path_until_something_revokes_it(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cradle.viewing import grants

    grants.cache().reset()
    fam = world.families["a"]
    _segment(fam)
    phone, laptop = world.client("parent_a"), Client()
    assert _status(phone, fam)["code"] == "live"  # the full path: learns the answer's headers
    assert _status(phone, fam)["code"] == "live"  # the full path again, which leaves a grant

    def checked(**extra) -> tuple[dict, list[str]]:
        with CaptureQueriesContext(connection) as done:
            state = _status(phone, fam, **extra)
        # The audit write (batched outside tests) is left out of the count.
        return state, [
            q["sql"] for q in done.captured_queries if "audit_" not in q["sql"] and "SAVEPOINT" not in q["sql"]
        ]

    state, queries = checked()
    # The revocation log, the camera and the newest segment: no session, account or scope look-up.
    assert state["code"] == "live" and len(queries) <= 3, queries
    Camera.objects.filter(pk=fam.bed.camera.pk).update(
        paused_until=timezone.now() + timedelta(minutes=10), pause_reason="care"
    )
    state, queries = checked(HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert state["title"] == "护士已暂停画面" and len(queries) <= 3
    assert Event.objects.filter(action="baby.status", actor_id=fam.parent.pk).count() == 4
    # Signed out from another device: the grant is revoked, and the full path says why.
    sign_in(laptop, fam.parent)
    device = DeviceSession.objects.get(session_key=phone.session.session_key)
    laptop.post(reverse("end_device", args=[device.public_id]))
    assert _status(phone, fam)["code"] == "signed_out_elsewhere"


def test_an_idle_sign_out_is_explained_once_on_the_page_it_lands_on(world):
    fam = world.families["a"]
    parent = world.client("parent_a")
    DeviceSession.objects.filter(session_key=parent.session.session_key).update(
        last_seen_at=timezone.now() - timedelta(hours=2)
    )
    page = parent.get(reverse("baby", args=[fam.admission.pk]), follow=True).content.decode()
    assert page.count("Signed out after a quiet spell") == 1 and "period of inactivity" not in page
    # Signing in again forgets it.
    sign_in(parent, fam.parent)
    parent.get(reverse("home"))
    assert "cradle_signed_out" not in parent.cookies or not parent.cookies["cradle_signed_out"].value
