"""The nurse's bed page and board say what the family sees now, in the families' own states: never "Camera live"
over a privacy screen, a dead camera or parents who stopped live viewing."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cradle import lifecycle
from cradle.unit.models import Bed, Camera
from cradle.viewing.models import LiveSegment


def _segment(fam, *, age: float = 0.5, screened: int = 0, screen: str = "", frames: int = 15) -> None:
    newest = LiveSegment.objects.filter(camera=fam.bed.camera).order_by("-index").first()
    LiveSegment.objects.create(
        camera=fam.bed.camera,
        admission=fam.admission,
        index=newest.index + 1 if newest else 0,
        started_at=timezone.now() - timedelta(seconds=age + 1),
        created_at=timezone.now() - timedelta(seconds=age),
        duration=1.0,
        frames=frames,
        screened=screened,
        screen=screen,
    )


def test_the_badge_tells_what_the_family_sees(world):
    fam = world.families["a"]
    # The camera still says live, but no worker has stored a segment for a while: the family sees "unavailable".
    Camera.objects.filter(pk=fam.bed.camera.pk).update(
        state=Camera.State.NO_PICTURE,
        seen_at=timezone.now(),
        last_error="Nothing answers at this address and port; check the camera is on and the address is right.",
    )
    _segment(fam, age=30)
    page = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'data-picture="unavailable"' in page and "Camera unavailable" in page and "Camera live" not in page
    assert "Nothing answers at this address" in page

    _segment(fam, screened=15, screen="checking")
    page = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'data-picture="checking"' in page and "the picture could not be checked" in page

    _segment(fam)
    page = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'data-picture="live"' in page and "Camera live" in page

    until = timezone.now() + timedelta(minutes=20)
    Camera.objects.filter(pk=fam.bed.camera.pk).update(paused_until=until, pause_reason="care")
    page = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'data-picture="paused"' in page and timezone.localtime(until).strftime("%H:%M") in page


def test_the_bed_page_says_when_the_parents_stopped_live_viewing(world):
    fam = world.families["a"]
    _segment(fam)
    lifecycle.withdraw_live(fam.admission)
    page = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'data-picture="stopped"' in page and "Parents stopped live viewing" in page


def test_a_pause_ends_with_the_admission(world):
    fam = world.families["a"]
    Camera.objects.filter(pk=fam.bed.camera.pk).update(
        paused_until=timezone.now() + timedelta(minutes=30), pause_reason="care"
    )
    lifecycle.discharge(fam.admission)
    camera = Camera.objects.get(pk=fam.bed.camera.pk)
    assert not camera.is_paused and camera.pause_reason == ""
    board = world.client("nurse1").get(reverse("board", args=[world.unit1.pk])).content.decode()
    assert "Paused until" not in board and 'data-picture="paused"' not in board and "min left" not in board


def test_an_empty_bed_has_no_pause_buttons(world):
    bed = Bed.objects.create(unit=world.unit1, label="z9")
    Camera.objects.create(bed=bed, source_url="sim://z9")
    page = world.client("nurse1").get(reverse("bed", args=[bed.pk])).content.decode()
    assert reverse("pause_camera", args=[bed.camera.pk]) not in page
    assert "Camera off: no baby in this bed" in page


def test_a_clip_shorter_than_asked_says_why(world):
    fam = world.families["a"]
    for _ in range(12):
        _segment(fam)
    nurse = world.client("nurse1")
    page = nurse.get(reverse("bed", args=[fam.bed.pk])).content.decode()
    # Before keeping it: the page says how much there is (the fixture's first second and these twelve).
    assert "holds 13 seconds for this baby so far" in page
    response = nurse.post(reverse("record_clip", args=[fam.admission.pk]), {"seconds": "30"}, follow=True)
    text = response.content.decode()
    assert "has only sent 13 s of picture for this baby so far" in text and "of the 30 s asked" in text


def test_the_unit_name_is_shown_in_the_readers_language(world):
    world.unit1.name_zh_hans = "新生儿重症监护室"
    world.unit1.save()
    nurse = world.client("nurse1")
    english = nurse.get(reverse("board", args=[world.unit1.pk])).content.decode()
    chinese = nurse.get(reverse("board", args=[world.unit1.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert world.unit1.name in english and "新生儿重症监护室" not in english
    assert "新生儿重症监护室" in chinese
