"""The administrator's admission-feed page: which place in the hospital's messages is which Cradle bed."""

from __future__ import annotations

from django.urls import reverse

from cradle.audit.models import Event
from cradle.integrations.adt.models import BedLocation, FeedMessage
from cradle.unit.models import Bed


def test_the_administrator_maps_places_to_beds_and_it_is_audited(world):
    admin = world.client("admin")
    bed = world.families["a"].bed
    url = reverse("feed_beds", args=[world.unit1.pk])
    page = admin.get(url)
    assert page.status_code == 200 and f'name="poc_{bed.pk}"' in page.content.decode()
    saved = admin.post(url, {f"poc_{bed.pk}": "NICU", f"room_{bed.pk}": "", f"bed_{bed.pk}": "7"})
    assert saved.status_code == 302
    location = BedLocation.objects.get(bed=bed)
    assert (location.point_of_care, location.room, location.hl7_bed) == ("NICU", "", "7")
    event = Event.objects.get(action="adt.beds_mapped")
    assert event.actor_id == world.users["admin"].pk and event.detail["changes"] == [{"bed": "a1", "place": "NICU^^7"}]
    # Emptied: the bed gets no admissions from the feed any more.
    admin.post(url, {f"poc_{bed.pk}": "", f"room_{bed.pk}": "", f"bed_{bed.pk}": ""})
    assert not BedLocation.objects.filter(bed=bed).exists()


def test_one_place_cannot_be_two_beds(world):
    admin = world.client("admin")
    other = Bed.objects.create(unit=world.unit2, label="x")
    BedLocation.objects.create(bed=other, point_of_care="NICU", room="", hl7_bed="7")
    bed = world.families["a"].bed
    url = reverse("feed_beds", args=[world.unit1.pk])
    page = admin.post(url, {f"poc_{bed.pk}": "nicu", f"room_{bed.pk}": "", f"bed_{bed.pk}": "7"})
    assert page.status_code == 200 and "already bed x of" in page.content.decode()
    half = admin.post(url, {f"poc_{bed.pk}": "", f"room_{bed.pk}": "", f"bed_{bed.pk}": "7"})
    assert "at least the point of care and the bed" in half.content.decode()
    assert not BedLocation.objects.filter(bed=bed).exists()


def test_the_page_lists_what_the_feed_could_not_apply(world):
    FeedMessage.objects.create(
        sender="HIS^HOSPITAL",
        control_id="M77",
        digest="0" * 64,
        event="A02",
        answer="AE",
        reason="The location PICU, bed 9 has no Cradle bed.",
        unit_id=world.unit1.pk,
    )
    page = world.client("admin").get(reverse("feed_beds", args=[world.unit1.pk])).content.decode()
    assert "M77" in page and "PICU, bed 9" in page
