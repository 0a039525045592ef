"""Keepsakes are made in the background, with progress, and saved as a finished file sealed under the baby's key.

Encoding a 60 s keepsake inside the web request failed most times with a bare "Internal Server Error" (the web
worker's timeout), and short ones left the parent staring at a spinning page for 10 s.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import av
import pytest
from django.urls import reverse
from django.utils import timezone

from cradle import tasks
from cradle.audit.models import Event
from cradle.media.store import StoreError
from cradle.retention import service
from cradle.viewing import keepsake, storage
from cradle.viewing.models import Keepsake, LiveSegment
from tests.test_viewing import real_clip, stored


def _frames(data: bytes) -> list:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _ask(client, clip_id: int):
    response = client.post(reverse("keepsake", args=[clip_id]))
    assert response.status_code == 302
    return response


def test_asking_for_a_keepsake_answers_at_once_and_the_queue_makes_it(world, monkeypatch):
    fam = world.families["a"]
    clip = real_clip(fam)
    parent = world.client("parent_a")
    made_in_request = []
    real_make = keepsake.make
    monkeypatch.setattr(keepsake, "make", lambda *a, **k: made_in_request.append(a) or real_make(*a, **k))

    response = _ask(parent, clip.pk)
    item = Keepsake.objects.get(user=fam.parent)
    assert response["Location"] == reverse("keepsake_page", args=[item.pk])
    assert made_in_request == [], "the web request must not encode"
    assert item.state == Keepsake.State.MAKING and item.progress == 0
    page = parent.get(response["Location"]).content.decode()
    assert "being made" in page and "<progress" in page
    assert parent.get(reverse("keepsake_status", args=[item.pk])).json()["state"] == "making"
    # Not ready: the download goes back to the page rather than sending anything.
    assert parent.get(reverse("keepsake_download", args=[item.pk]))["Location"] == response["Location"]

    assert tasks.make_keepsakes.call() == 1
    status = parent.get(reverse("keepsake_status", args=[item.pk])).json()
    assert status["state"] == "ready" and status["progress"] == 100
    assert status["download"] == reverse("keepsake_download", args=[item.pk])
    # The baby's page tells the parent it is ready.
    baby = parent.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert "is ready" in baby and reverse("keepsake_page", args=[item.pk]) in baby

    download = parent.get(status["download"])
    assert download.status_code == 200 and download["Content-Type"] == "video/mp4"
    assert "attachment" in download["Content-Disposition"]
    frames = _frames(download.content)
    assert len(frames) == 20 and frames[0].shape == (120, 160, 3)
    # The bottom band carries the burned-in text: bright strokes on a darkened strip.
    assert frames[5][-14:, :, :].max() > 200
    asked = Event.objects.filter(action="clip.keepsake", outcome="ok", actor_id=fam.parent.pk)
    fetched = Event.objects.filter(action="clip.keepsake_download", outcome="ok", actor_id=fam.parent.pk)
    assert asked.count() == 1 and fetched.count() == 1
    assert fetched.get().detail["bytes"] == len(download.content)


def test_the_finished_file_is_sealed_under_the_babys_key_and_destroyed_with_it(world):
    fam = world.families["a"]
    clip = real_clip(fam)
    parent = world.client("parent_a")
    _ask(parent, clip.pk)
    keepsake.run_pending()
    item = Keepsake.objects.get(user=fam.parent, state=Keepsake.State.READY)
    data = parent.get(reverse("keepsake_download", args=[item.pk])).content
    store = storage.segment_store()
    [name] = store.media_backend.list(f"{fam.admission.media_id}/keepsake-{item.pk}/")
    sealed = store.media_backend.get(name)
    assert data not in sealed and b"ftyp" not in sealed  # no readable MP4 on the disk

    service.shred(fam.admission, "test")
    with pytest.raises(StoreError):
        keepsake.read(item)
    assert store.media_backend.list(f"{fam.admission.media_id}/") == []
    # The parent's page and file are gone with the baby's media.
    assert parent.get(reverse("keepsake_download", args=[item.pk])).status_code == 404


def test_a_finished_file_is_removed_after_its_day(world):
    fam = world.families["a"]
    clip = real_clip(fam)
    parent = world.client("parent_a")
    _ask(parent, clip.pk)
    keepsake.run_pending()
    item = Keepsake.objects.get(user=fam.parent)
    assert keepsake.forget_expired() == 0
    assert keepsake.forget_expired(timezone.now() + keepsake.KEEP + timedelta(minutes=1)) == 1
    item.refresh_from_db()
    assert item.state == Keepsake.State.GONE
    with pytest.raises(StoreError):
        keepsake.read(item)
    page = parent.get(reverse("keepsake_page", args=[item.pk])).content.decode()
    assert "has been removed" in page


def test_a_keepsake_that_cannot_be_made_says_so_and_gives_its_place_back(world, settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, keepsakes_per_day=1)
    fam = world.families["a"]
    stored(fam)  # sealed bytes that are not video
    from cradle.viewing import clips

    clip = clips.record(fam.admission, 15)
    parent = world.client("parent_a")
    _ask(parent, clip.pk)
    assert keepsake.run_pending() == 0
    item = Keepsake.objects.get(user=fam.parent)
    assert item.state == Keepsake.State.FAILED
    assert "could not be made" in parent.get(reverse("keepsake_page", args=[item.pk])).content.decode()
    # The failed one does not count: the parent may ask again today, once.
    assert _ask(parent, clip.pk)["Location"].startswith("/keepsakes/")
    assert _ask(parent, clip.pk)["Location"] == reverse("clip", args=[clip.pk])


def test_a_keepsake_whose_maker_died_is_made_by_the_next_run(world):
    fam = world.families["a"]
    clip = real_clip(fam)
    _ask(world.client("parent_a"), clip.pk)
    item = Keepsake.objects.get(user=fam.parent)
    Keepsake.objects.filter(pk=item.pk).update(claimed_at=timezone.now())
    assert not keepsake.waiting() and keepsake.run_pending() == 0  # someone is making it
    Keepsake.objects.filter(pk=item.pk).update(claimed_at=timezone.now() - keepsake.STALE - timedelta(seconds=1))
    assert keepsake.waiting() and keepsake.run_pending() == 1


def test_only_the_parent_who_asked_sees_the_keepsake(world):
    fam = world.families["a"]
    clip = real_clip(fam)
    _ask(world.client("parent_a"), clip.pk)
    keepsake.run_pending()
    item = Keepsake.objects.get(user=fam.parent)
    for other in ("relative_a", "parent_b", "nurse1"):
        client = world.client(other)
        for name in ("keepsake_page", "keepsake_status", "keepsake_download"):
            assert client.get(reverse(name, args=[item.pk])).status_code == 404, (other, name)
    assert world.client("relative_a").post(reverse("keepsake", args=[clip.pk])).status_code == 404


def test_the_clip_page_says_when_part_of_it_is_a_privacy_screen(world):
    fam = world.families["a"]
    clip = real_clip(fam, seconds=2)
    parent = world.client("parent_a")
    page = parent.get(reverse("clip", args=[clip.pk])).content.decode()
    assert 'id="screened-note"' not in page
    LiveSegment.objects.filter(pk=clip.segments.order_by("index").first().pk).update(
        frames=10, screened=10, screen="checking"
    )
    page = parent.get(reverse("clip", args=[clip.pk])).content.decode()
    assert 'id="screened-note"' in page and "For 1 second of this clip" in page
    _ask(parent, clip.pk)
    item = Keepsake.objects.get(user=fam.parent)
    assert item.screened_seconds == 1
    assert "privacy screen" in parent.get(reverse("keepsake_page", args=[item.pk])).content.decode()
