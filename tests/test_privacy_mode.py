"""Nurse privacy mode: one tap with a reason, a calm screen for the family, and resuming by itself."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from cradle.audit.models import Event
from cradle.unit.models import Camera


def test_a_nurse_pauses_from_the_board_and_the_family_sees_the_care_screen(world):
    fam = world.families["a"]
    camera = fam.bed.camera
    nurse = world.client("nurse1")
    board = nurse.get(reverse("board", args=[world.unit1.pk])).content.decode()
    assert reverse("pause_camera", args=[camera.pk]) in board

    response = nurse.post(reverse("pause_camera", args=[camera.pk]), {"reason": "care", "minutes": "20"})
    assert response["Location"] == reverse("board", args=[world.unit1.pk])
    camera.refresh_from_db()
    assert camera.is_paused and camera.pause_reason == "care"
    assert timedelta(minutes=19) < camera.paused_until - timezone.now() <= timedelta(minutes=20)

    page = world.client("parent_a").get(reverse("baby", args=[fam.admission.pk])).content.decode()
    # The card covers the player and says who paused it, why and until when.
    assert 'data-state="paused"' in page and 'class="state-card" id="state-card"' in page
    assert "Paused by the nurse" in page and "while your baby is cared for" in page
    assert timezone.localtime(camera.paused_until).strftime("%H:%M") in page
    api = world.client("parent_a").get(reverse("api:admission", args=[fam.admission.pk])).json()
    assert api["camera_state"] == "paused"
    event = Event.objects.get(action="camera.paused")
    assert event.detail == {"bed": fam.bed.label, "reason": "care", "minutes": 20}

    # It resumes by itself when the time is up.
    Camera.objects.filter(pk=camera.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    page = world.client("parent_a").get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert 'data-state="paused"' not in page and "Paused by the nurse" not in page


def test_a_nurse_resumes_early_from_the_bed_page(world):
    camera = world.families["a"].bed.camera
    nurse = world.client("nurse1")
    nurse.post(reverse("pause_camera", args=[camera.pk]), {"reason": "family", "minutes": "30", "from": "bed"})
    response = nurse.post(reverse("resume_camera", args=[camera.pk]), {"from": "bed"})
    assert response["Location"] == reverse("bed", args=[camera.bed_id])
    camera.refresh_from_db()
    assert not camera.is_paused
    assert Event.objects.filter(action="camera.resumed").exists()


def test_only_the_listed_reasons_and_durations_are_accepted(world):
    camera = world.families["a"].bed.camera
    nurse = world.client("nurse1")
    nurse.post(reverse("pause_camera", args=[camera.pk]), {"reason": "care", "minutes": "600"})
    nurse.post(reverse("pause_camera", args=[camera.pk]), {"reason": "because", "minutes": "10"})
    camera.refresh_from_db()
    assert not camera.is_paused


def test_a_nurse_of_another_unit_cannot_pause(world):
    camera = world.families["a"].bed.camera
    response = world.client("nurse2").post(
        reverse("pause_camera", args=[camera.pk]), {"reason": "care", "minutes": "10"}
    )
    assert response.status_code == 404
    camera.refresh_from_db()
    assert not camera.is_paused
