"""The nurse sees what the family sees: the bed page plays the same redacted segments through the family's player,
marked for the nurse's own session and audited like any view, with the state the family is told."""

from __future__ import annotations

from django.urls import reverse

from cradle.audit.models import Event
from cradle.unit.models import Bed, Camera
from cradle.viewing import delivery
from tests.test_viewing import playlist_urls, stored


def test_the_bed_page_plays_the_familys_picture_for_the_nurses_session(world):
    fam = world.families["a"]
    stored(fam)
    nurse = world.client("nurse1")
    page = nurse.get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert 'id="player"' in page and reverse("live_playlist", args=[fam.admission.pk]) in page
    assert reverse("live_status", args=[fam.admission.pk]) in page and "cradle/player.js" in page
    # The same segments, in the variant of the nurse's own session, each fetch audited under the nurse's name.
    from cradle.accounts.models import DeviceSession

    device = DeviceSession.objects.get(session_key=nurse.session.session_key)
    assert delivery.viewer_code(device) in page
    for url in playlist_urls(nurse, fam):
        response = nurse.get(url)
        assert response.status_code == 200
        variant, camera, index = response.content.decode().split(":")
        assert variant == "AB"[delivery.session_bit(device, int(camera), int(index))]
    events = Event.objects.filter(action="live.segment", outcome="ok", actor_id=world.users["nurse1"].pk)
    assert events.count() == 6 and all(e.session for e in events)
    # The state the family is told now comes with the page.
    status = reverse("live_status", args=[fam.admission.pk])
    assert nurse.get(status).json()["code"] == world.client("parent_a").get(status).json()["code"]


def test_a_nurse_of_another_unit_sees_no_picture(world):
    fam = world.families["a"]
    stored(fam)
    other = world.client("nurse2")
    assert other.get(reverse("bed", args=[fam.bed.pk])).status_code == 404
    assert other.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404


def test_an_empty_bed_has_no_player(world):
    bed = Bed.objects.create(unit=world.unit1, label="e1")
    Camera.objects.create(bed=bed, source_url="sim://e1")
    page = world.client("nurse1").get(reverse("bed", args=[bed.pk])).content.decode()
    assert 'id="player"' not in page
