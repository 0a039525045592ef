"""Live delivery: per-session playlists, opaque short-lived segment addresses, one variant per account, audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.accounts import sessions
from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.store import MasterKey, MasterKeyError
from cradle.viewing import delivery, storage
from cradle.viewing.models import LiveSegment, ServedVariant
from tests.conftest import sign_in

SEGMENTS = 8


def stored(fam, count: int = SEGMENTS) -> list[LiveSegment]:
    """Segments as the worker leaves them: sealed in the store, indexed in the database."""
    store = storage.segment_store()
    store.admit(fam.admission.media_id)
    camera = fam.bed.camera
    rows = []
    for i in range(count + 1):
        for variant in ("A", "B", "ref"):
            store.put(fam.admission.media_id, str(camera.pk), i, variant, f"{variant}:{camera.pk}:{i}".encode())
        if i == 0:
            continue  # the fixture's clip already indexed segment 0
        rows.append(
            LiveSegment.objects.create(
                camera=camera, admission=fam.admission, index=i, started_at=timezone.now(), duration=1.0
            )
        )
    return rows


def playlist_urls(client: Client, fam) -> list[str]:
    response = client.get(reverse("live_playlist", args=[fam.admission.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    return [line for line in response.content.decode().splitlines() if line and not line.startswith("#")]


def test_a_parent_gets_a_playlist_of_opaque_addresses_and_one_variant_per_segment(world):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    urls = playlist_urls(client, fam)
    assert len(urls) == 6  # the newest segments only
    for url in urls:
        token = url.removeprefix("/v/").removesuffix(".ts")
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
        assert str(fam.admission.pk) not in url.split("/")[1:-1]
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "video/mp2t"
        assert response["Cache-Control"].startswith("no-store")
        variant, camera, index = response.content.decode().split(":")
        assert variant == "AB"[delivery.session_bit(device, int(camera), int(index))]
    events = Event.objects.filter(action="live.segment", outcome="ok", actor_id=fam.parent.pk)
    assert events.count() == 6
    assert {e.detail["variant"] for e in events} <= {"A", "B"} and all(e.session for e in events)
    assert Event.objects.filter(action="live.playlist", outcome="ok", admission_id=fam.admission.pk).exists()


def test_another_family_gets_404_on_the_playlist_and_on_stolen_addresses(world):
    fam = world.families["a"]
    stored(fam)
    urls = playlist_urls(world.client("parent_a"), fam)
    other = world.client("parent_b")
    assert other.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404
    assert other.get(urls[0]).status_code == 404
    assert Client().get(urls[0]).status_code == 404
    assert Client().get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404
    reasons = set(
        Event.objects.filter(action__startswith="live.", outcome="denied").values_list("detail__reason", flat=True)
    )
    assert {"out of scope", "another or ended session", "not signed in"} <= reasons


def test_forged_expired_and_ended_session_addresses_get_404(world, settings):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = playlist_urls(client, fam)[0]
    token = url.removeprefix("/v/").removesuffix(".ts")
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(reverse("segment", args=[forged])).status_code == 404

    # An address past its lifetime (a live playlist never lists one: see the test on dead addresses below).
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    row = LiveSegment.objects.filter(admission=fam.admission).order_by("-index").first()
    expired = delivery.segment_url(device, row, lifetime_s=-1)
    assert client.get(expired).status_code == 404

    assert client.get(url).status_code == 200
    sessions.end_all(fam.parent, DeviceSession.EndReason.BY_STAFF)
    assert client.get(url).status_code == 404
    reasons = set(
        Event.objects.filter(action="live.segment", outcome="denied").values_list("detail__reason", flat=True)
    )
    assert {"bad signature", "expired"} <= reasons


def test_no_account_ever_gets_both_variants_of_a_segment(world):
    fam = world.families["a"]
    stored(fam, count=32)
    first, second = Client(), Client()
    sign_in(first, fam.parent)
    sign_in(second, fam.parent)
    devices = [DeviceSession.objects.get(session_key=c.session.session_key) for c in (first, second)]
    camera = fam.bed.camera.pk
    # The two sessions' own bits differ on some segments: those are the ones that matter.
    differing = [
        i
        for i in range(1, 33)
        if delivery.session_bit(devices[0], camera, i) != delivery.session_bit(devices[1], camera, i)
    ]
    assert differing
    got = {}
    for client in (first, second):
        for url in playlist_urls(client, fam) + _older_urls(client, fam, devices):
            body = client.get(url).content.decode()
            variant, _cam, index = body.split(":")
            got.setdefault(int(index), set()).add(variant)
    assert all(len(v) == 1 for v in got.values())
    assert ServedVariant.objects.filter(user=fam.parent).count() == len(got)


def _older_urls(client, fam, devices):
    """Addresses for every stored segment (a playlist lists only the newest), as the session's own tickets."""
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    rows = LiveSegment.objects.filter(admission=fam.admission, in_clip=False)
    return [delivery.segment_url(device, row, 60) for row in rows]


def test_discharge_ends_delivery_at_once(world):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = playlist_urls(client, fam)[0]
    world.client("nurse1").post(reverse("discharge", args=[fam.admission.pk]))
    assert client.get(url).status_code == 404
    assert client.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404


def test_parents_see_live_viewing_on_who_watched(world):
    fam = world.families["a"]
    stored(fam)
    relative = world.client("relative_a")
    for url in playlist_urls(relative, fam):
        relative.get(url)
    page = world.client("parent_a").get(reverse("who_watched", args=[fam.admission.pk])).content.decode()
    # A playlist and six segments in one session read as one viewing.
    assert "Relative A" in page and page.count("watched live") == 1


def test_a_copied_segment_does_not_decrypt_under_another_admission(world):
    a, b = world.families["a"], world.families["b"]
    stored(a)
    stored(b)
    store = storage.segment_store()
    raw = (storage.settings.MEDIA_DIR / a.admission.media_id / str(a.bed.camera.pk) / f"{3:012d}.A").read_bytes()
    target = storage.settings.MEDIA_DIR / b.admission.media_id / str(b.bed.camera.pk) / f"{3:012d}.A"
    target.write_bytes(raw)
    with pytest.raises(Exception, match="cannot be decrypted"):
        store.get(b.admission.media_id, str(b.bed.camera.pk), 3, "A")


def test_a_missing_or_wrong_master_key_stops_start_up(world, settings, tmp_path):
    storage.forget()
    try:
        settings.MASTER_KEY_FILE = tmp_path / "absent.key"
        with pytest.raises(MasterKeyError):
            storage.segment_store()
        with pytest.raises(CommandError, match="master key"):
            call_command("serve")
        storage.forget()
        settings.MASTER_KEY_FILE = tmp_path / "other.key"
        MasterKey.create(settings.MASTER_KEY_FILE)
        with pytest.raises(MasterKeyError, match="does not match"):
            storage.segment_store()
    finally:
        storage.forget()


def test_old_segments_leave_the_live_buffer(world):
    from cradle.worker.pipelines import Worker

    fam = world.families["a"]
    rows = stored(fam)
    LiveSegment.objects.filter(pk__in=[r.pk for r in rows[:3]]).update(created_at=timezone.now() - timedelta(minutes=6))
    assert Worker(pool=object()).expire() == 3
    assert LiveSegment.objects.filter(admission=fam.admission, in_clip=False).count() == SEGMENTS - 3
    left = storage.segment_store().segments(fam.admission.media_id, str(fam.bed.camera.pk))
    assert sorted({i for i, _ in left}) == [0, *range(4, SEGMENTS + 1)]  # 0 stays with its clip


def test_a_nurse_keeps_a_clip_and_the_family_watches_it(world):
    fam = world.families["a"]
    stored(fam)
    nurse = world.client("nurse1")
    response = nurse.post(reverse("record_clip", args=[fam.admission.pk]), {"seconds": "15"})
    assert response["Location"] == reverse("bed", args=[fam.bed.pk])
    clip = fam.admission.clips.filter(kind="recorded", created_by=world.users["nurse1"]).get()
    # Only 9 s were there (the fixture's segment 0 and 8 more).
    assert clip.segments.count() == SEGMENTS + 1 and clip.duration == SEGMENTS + 1
    assert set(clip.segments.values_list("in_clip", flat=True)) == {True}

    parent = world.client("parent_a")
    page = parent.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert reverse("clip", args=[clip.pk]) in page
    assert "Baby" not in page.split(reverse("clip", args=[clip.pk]))[1][:80]  # the list shows date and length only
    body = parent.get(reverse("clip_playlist", args=[clip.pk])).content.decode()
    assert "#EXT-X-ENDLIST" in body and "#EXT-X-PLAYLIST-TYPE:VOD" in body
    urls = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert len(urls) == SEGMENTS + 1
    ticket = delivery.open_ticket(urls[0].removeprefix("/v/").removesuffix(".ts"))
    assert ticket.clip_id == clip.pk and 590 <= ticket.expires - timezone.now().timestamp() <= 600
    assert parent.get(urls[0]).status_code == 200
    assert Event.objects.filter(action="clip.segment", detail__clip=clip.pk).count() == 1
    assert Event.objects.filter(action="clip.playlist", admission_id=fam.admission.pk).exists()
    assert "watched a clip" in parent.get(reverse("who_watched", args=[fam.admission.pk])).content.decode()

    other = world.client("parent_b")
    assert other.get(reverse("clip_playlist", args=[clip.pk])).status_code == 404
    assert other.get(reverse("clip", args=[clip.pk])).status_code == 404
    assert other.get(urls[1]).status_code == 404


def test_clip_segments_outlive_the_live_buffer(world):
    from cradle.viewing import clips
    from cradle.worker.pipelines import Worker

    fam = world.families["a"]
    rows = stored(fam)
    clip = clips.record(fam.admission, 15)
    LiveSegment.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=timezone.now() - timedelta(hours=1))
    assert Worker(pool=object()).expire() == 0
    assert clip.segments.count() == SEGMENTS + 1


def test_a_daily_clip_is_kept_once_a_day(world):
    from cradle.unit.models import Camera
    from cradle.viewing import clips

    fam = world.families["a"]
    stored(fam)
    now = timezone.localtime()
    Camera.objects.filter(pk=fam.bed.camera.pk).update(
        daily_clip_at=(now - timedelta(minutes=1)).time() if now.hour or now.minute else now.time(),
        daily_clip_seconds=5,
    )
    made = clips.record_daily(now)
    assert len(made) == 1 and made[0].kind == "daily" and made[0].segments.count() == 5
    assert clips.record_daily(now) == []


def test_a_retired_camera_with_a_daily_time_does_not_stop_the_daily_clips(world):
    """Retiring a camera frees its bed but keeps its daily time: it has no bed, hence no baby, and is passed over."""
    from cradle.unit.models import Camera
    from cradle.viewing import clips

    fam = world.families["a"]
    stored(fam)
    now = timezone.localtime()
    at = (now - timedelta(minutes=1)).time() if now.hour or now.minute else now.time()
    Camera.objects.create(source_url="sim://retired", bed=None, retired_at=now, daily_clip_at=at)
    Camera.objects.filter(pk=fam.bed.camera.pk).update(daily_clip_at=at, daily_clip_seconds=5)
    made = clips.record_daily(now)
    assert [clip.admission_id for clip in made] == [fam.admission.pk]


def real_clip(fam, seconds: int = 2):
    """A clip of real, marked segments of a small simulated bed."""
    from fractions import Fraction

    from cradle.media.frames import SafeFrame
    from cradle.media.hls import segments
    from cradle.media.sim import SimCamera, SimSettings
    from cradle.viewing import clips

    camera = SimCamera(SimSettings(bed="k", width=160, height=120, fps=10, seed=3))
    frames = [
        SafeFrame(camera.frame(i).image, i, i * 9000, Fraction(1, 90000), 0.0, False) for i in range(10 * seconds)
    ]
    store = storage.segment_store()
    store.admit(fam.admission.media_id)
    cam = fam.bed.camera
    for seg in segments(frames, storage.mark_key(), str(cam.pk), 160, 120, 10, first_index=1):
        for variant, data in seg.objects().items():
            store.put(fam.admission.media_id, str(cam.pk), seg.index, variant, data)
        LiveSegment.objects.create(
            camera=cam,
            admission=fam.admission,
            index=seg.index,
            started_at=timezone.now(),
            duration=seg.duration,
            units=len(seg.units),
        )
    LiveSegment.objects.filter(index=0, camera=cam).delete()  # the fixture's picture-less segment
    return clips.record(fam.admission, seconds)


def test_a_reloaded_playlist_keeps_the_addresses_of_segments_it_already_listed(world):
    # A player matches the segments of a reloaded live playlist by address; new addresses would restart it.
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    assert playlist_urls(client, fam) == playlist_urls(client, fam)


def test_a_live_playlist_leaves_out_segments_whose_addresses_would_already_be_dead(world):
    """A camera that stopped sending leaves its last segments behind: listing their expired addresses made a player
    fetch and fail (404) on every one of them, again and again."""
    from django.conf import settings

    fam = world.families["a"]
    rows = stored(fam)
    old = timezone.now() - timedelta(seconds=settings.CRADLE.live_url_seconds - delivery.LIVE_URL_MARGIN_S + 1)
    LiveSegment.objects.filter(admission=fam.admission).exclude(pk__in=[r.pk for r in rows[-2:]]).update(created_at=old)
    client = world.client("parent_a")
    urls = playlist_urls(client, fam)
    assert len(urls) == 2 and all(client.get(url).status_code == 200 for url in urls)
    LiveSegment.objects.filter(admission=fam.admission).update(created_at=old)
    assert playlist_urls(world.client("parent_a"), fam) == []


def test_after_discharge_the_family_keeps_its_clips_but_not_the_live_picture(world):
    from cradle import lifecycle
    from cradle.viewing import clips

    fam = world.families["a"]
    stored(fam)
    clip = clips.record(fam.admission, 15)
    lifecycle.discharge(fam.admission)
    parent = world.client("parent_a")  # signed in again: discharge ended every family session
    assert parent.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404
    listed = parent.get(reverse("clip_playlist", args=[clip.pk]))
    assert listed.status_code == 200
    url = next(line for line in listed.content.decode().splitlines() if line.startswith("/v/"))
    assert parent.get(url).status_code == 200
    assert Event.objects.filter(action="live.playlist", outcome="denied", actor_id=fam.parent.pk).exists()
