"""Parents withdraw consent: to live viewing (the camera stops), or to everything (confirmed, then destroyed)."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.retention import service
from cradle.unit.models import Admission
from cradle.viewing import storage
from cradle.viewing.models import Clip, LiveSegment
from tests.test_retention import decryptable
from tests.test_viewing import playlist_urls, stored


def test_withdrawing_live_viewing_stops_the_camera_and_keeps_the_clips(world, fresh_storage):
    fam = world.families["a"]
    stored(fam)
    parent = world.client("parent_a")
    page = parent.get(reverse("consent", args=[fam.admission.pk])).content.decode()
    assert "Stop live viewing" in page
    # The first tap only asks again: it cannot be undone.
    asked = parent.post(reverse("consent", args=[fam.admission.pk]), {"withdraw": "live"})
    assert asked.status_code == 200 and "Stop live viewing?" in asked.content.decode()
    assert "cannot be undone" in asked.content.decode()
    assert Admission.objects.filmed().filter(pk=fam.admission.pk).exists()
    assert not Event.objects.filter(action="consent.live_withdrawn").exists()
    response = parent.post(reverse("consent", args=[fam.admission.pk]), {"withdraw": "live", "confirm": "yes"})
    assert response["Location"] == reverse("baby", args=[fam.admission.pk])
    assert not Admission.objects.filmed().filter(pk=fam.admission.pk).exists()
    assert not LiveSegment.objects.filter(admission=fam.admission, in_clip=False).exists()
    page = parent.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    # The page says so, and plays nothing.
    assert 'data-state="stopped"' in page and "stopped at the parents&#x27; request" in page
    assert "data-playlist" not in page and "<video" not in page
    assert parent.get(reverse("clip", args=[fam.clip_id])).status_code == 200
    assert storage.segment_store().has_key(fam.admission.media_id)
    event = Event.objects.get(action="consent.live_withdrawn")
    assert (event.actor_id, event.admission_id) == (fam.parent.pk, fam.admission.pk)


def test_withdrawing_everything_is_confirmed_then_destroys_at_once(world, fresh_storage):
    fam = world.families["a"]
    stored(fam)
    parent, relative = world.client("parent_a"), world.client("relative_a")
    live_url = playlist_urls(relative, fam)[0]
    url = reverse("consent", args=[fam.admission.pk])

    # Not confirmed: nothing happens.
    response = parent.post(url, {"withdraw": "everything"})
    assert response.status_code == 200 and "Tick the box" in response.content.decode()
    assert storage.segment_store().has_key(fam.admission.media_id)
    assert not Event.objects.filter(action__startswith="consent.").exists()

    response = parent.post(url, {"withdraw": "everything", "confirm": "on"})
    assert response["Location"] == reverse("consent_withdrawn")
    assert "destroyed" in Client().get(response["Location"]).content.decode()

    # Everyone of the family is signed out and refused; the relative's open player stops.
    assert not DeviceSession.objects.filter(user__in=[fam.parent, fam.relative], ended_at__isnull=True).exists()
    assert relative.get(live_url).status_code == 404
    again = world.client("parent_a")
    assert again.get(reverse("baby", args=[fam.admission.pk])).status_code == 404
    assert again.get(reverse("clip", args=[fam.clip_id])).status_code == 404
    # The media is gone and what may be left cannot be read; the key is in the ledger.
    admission = Admission.objects.get(pk=fam.admission.pk)
    assert admission.shredded_at is not None and admission.discharged_at is None  # the baby is still cared for
    assert not Admission.objects.filmed().filter(pk=admission.pk).exists()
    assert not storage.segment_store().has_key(admission.media_id)
    assert decryptable(settings.MEDIA_DIR)[1] == 0
    assert not Clip.objects.filter(admission=admission).exists()
    assert admission.media_id in service.ledger().media_ids()
    actions = list(Event.objects.filter(admission_id=admission.pk).values_list("action", flat=True))
    assert actions.index("consent.withdrawn") < actions.index("admission.shredded")
    out = io.StringIO()
    call_command("retention", "verify", stdout=out)
    assert "violations: 0" in out.getvalue()
    # The nurses still see the baby on their board.
    assert world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).status_code == 200


def test_relatives_cannot_withdraw_consent(world):
    fam = world.families["a"]
    relative = world.client("relative_a")
    url = reverse("consent", args=[fam.admission.pk])
    assert relative.post(url, {"withdraw": "everything", "confirm": "on"}).status_code == 404
    assert Admission.objects.get(pk=fam.admission.pk).shredded_at is None


def test_the_tick_for_destroying_everything_sits_right_before_its_own_words(world):
    page = world.client("parent_a").get(reverse("consent", args=[world.families["a"].admission.pk])).content.decode()
    tick = page.index('type="checkbox" name="confirm"')
    label = page.index('<label for="id_confirm">')
    between = page[tick:label]
    assert 0 < label - tick < 250 and "<div" not in between and "</div>" not in between
    assert "Consent settings" in page
