"""Bulk-access detection: a harvesting account is suspended, its sessions end, the privacy officers are alerted."""

from __future__ import annotations

from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from cradle.accounts.models import DeviceSession, User
from cradle.audit.models import Alert, Event
from cradle.unit.models import Admission, Bed, Camera
from cradle.viewing.models import Clip, LiveSegment
from tests.conftest import sign_in, sign_in_by_form


def many_clips(fam, count: int) -> list[Clip]:
    made = []
    for i in range(count):
        segment = LiveSegment.objects.create(
            camera=fam.bed.camera,
            admission=fam.admission,
            index=100 + i,
            started_at=fam.admission.admitted_at,
            duration=1.0,
            in_clip=True,
        )
        clip = Clip.objects.create(admission=fam.admission, camera=fam.bed.camera, duration=1.0)
        clip.segments.set([segment])
        made.append(clip)
    return made


def suspended(user: User) -> bool:
    user.refresh_from_db()
    return not user.is_active and user.suspended_at is not None


def test_an_account_harvesting_clips_is_stopped_before_twenty(world):
    fam = world.families["a"]
    clips = many_clips(fam, 25)
    relative = world.client("relative_a")
    served = 0
    for clip in clips:
        if relative.get(reverse("clip_playlist", args=[clip.pk])).status_code != 200:
            break
        served += 1
    assert served < 20
    assert suspended(fam.relative) and fam.relative.suspended_for == "clips_per_hour"
    assert not DeviceSession.objects.filter(user=fam.relative, ended_at__isnull=True).exists()
    assert relative.get(reverse("clip_playlist", args=[clips[0].pk])).status_code == 404
    alert = Alert.objects.get(kind="bulk_access", unit_id=world.unit1.pk)
    assert alert.detail["username"] == "relative_a" and alert.detail["clips"] > 12
    assert Event.objects.filter(action="account.suspended", actor_id=fam.relative.pk).exists()
    # A suspended account cannot sign in again.
    c = Client()
    sign_in_by_form(c, "relative_a")
    assert c.get(reverse("devices")).status_code == 302


def test_a_family_watching_normally_is_not_stopped(world):
    fam = world.families["a"]
    clips = many_clips(fam, 3)
    parent = world.client("parent_a")
    for _ in range(30):
        assert parent.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    for clip in clips:
        assert parent.get(reverse("clip_playlist", args=[clip.pk])).status_code == 200
    assert not suspended(fam.parent)


def test_many_concurrent_sessions_are_stopped(world):
    fam = world.families["a"]
    codes = []
    for _ in range(4):
        c = Client()
        sign_in(c, fam.relative)
        codes.append(c.get(reverse("live_playlist", args=[fam.admission.pk])).status_code)
    assert codes == [200, 200, 200, 404]
    assert suspended(fam.relative) and fam.relative.suspended_for == "concurrent_sessions"


def test_fetching_from_many_addresses_is_stopped(world):
    fam = world.families["a"]
    c = world.client("relative_a")
    codes = []
    for i in range(5):
        cache.clear()  # as if the per-session check interval had passed
        codes.append(c.get(reverse("live_playlist", args=[fam.admission.pk]), REMOTE_ADDR=f"192.0.2.{i}").status_code)
    assert codes == [200, 200, 200, 200, 404]
    assert fam.relative.__class__.objects.get(pk=fam.relative.pk).suspended_for == "addresses_per_hour"


def test_a_nurse_opening_many_babies_in_an_hour_is_stopped(world):
    nurse = world.client("nurse1")
    for i in range(11):
        bed = Bed.objects.create(unit=world.unit1, label=f"x{i}")
        Camera.objects.create(bed=bed, source_url=f"sim://x{i}")
        Admission.objects.create(unit=world.unit1, bed=bed, admitted_by=world.users["nurse1"])
    codes = [
        nurse.get(reverse("baby", args=[a.pk])).status_code
        for a in Admission.objects.filter(bed__label__startswith="x")
    ]
    assert codes[:10] == [200] * 10 and codes[10] == 404
    assert suspended(world.users["nurse1"])
    assert world.users["nurse1"].suspended_for == "staff_admissions_per_hour"


def test_a_privacy_officer_reinstates_after_review(world):
    fam = world.families["a"]
    relative = world.client("relative_a")
    for clip in many_clips(fam, 14):
        relative.get(reverse("clip_playlist", args=[clip.pk]))
    assert suspended(fam.relative)
    alert = Alert.objects.get(kind="bulk_access")
    page = world.client("privacy").get(reverse("alerts")).content.decode()
    assert "relative_a" in page and "reinstate" in page
    world.client("privacy").post(reverse("alerts"), {"alert": alert.pk, "reinstate": "1"})
    fam.relative.refresh_from_db()
    assert fam.relative.is_active and fam.relative.suspended_at is None
    assert Event.objects.filter(action="account.reinstated").exists()
