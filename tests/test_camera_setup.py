"""Camera set-up for administrators: add, edit, check and retire a camera; its password sealed and never shown or
audited; its health on the page and in /metrics."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from cradle.audit.models import Event
from cradle.unit.models import Bed, Camera
from cradle.viewing.camera_config import run_config

SECRET = "pa:ss w0rd&!"


@pytest.fixture
def free_bed(world):
    return Bed.objects.create(unit=world.unit1, label="c1")


def _add(world, bed, **extra):
    form = {"bed": bed.pk, "source_url": "rtsp://10.20.30.40:554/stream1", "username": "ward",
            "password": SECRET, "width": 640, "height": 360, "fps": 10, **extra}  # fmt: skip
    return world.client("admin").post(reverse("cameras", args=[world.unit1.pk]), form)


def test_an_administrator_adds_a_camera_with_its_password_sealed(world, free_bed):
    response = _add(world, free_bed)
    camera = Camera.objects.get(bed=free_bed)
    assert response["Location"] == reverse("camera_edit", args=[camera.pk])
    assert camera.source_url == "rtsp://10.20.30.40:554/stream1" and (camera.width, camera.height, camera.fps) == (
        640,
        360,
        10,
    )
    assert camera.connect_url == "rtsp://ward:pa%3Ass%20w0rd%26%21@10.20.30.40:554/stream1"
    assert SECRET not in camera.source_credentials and "ward" not in camera.source_credentials
    page = world.client("admin").get(reverse("camera_edit", args=[camera.pk])).content.decode()
    assert "10.20.30.40" in page and SECRET not in page and "pa%3Ass" not in page
    listing = world.client("admin").get(reverse("cameras", args=[world.unit1.pk])).content.decode()
    assert "user name and password stored" in listing and SECRET not in listing
    events = [e.detail for e in Event.objects.filter(action__startswith="camera.")]
    assert any(e.get("address") == "rtsp://10.20.30.40:554/stream1" for e in events)
    assert "pa:ss" not in json.dumps(events) and "ward:" not in json.dumps(events)


def test_credentials_typed_into_the_address_are_taken_out_of_it(world, free_bed):
    _add(world, free_bed, source_url="rtsp://cam:other@10.0.0.9/live", username="", password="")
    camera = Camera.objects.get(bed=free_bed)
    assert camera.source_url == "rtsp://10.0.0.9/live" and camera.connect_url == "rtsp://cam:other@10.0.0.9/live"


def test_bad_settings_are_refused_with_a_clear_line(world, free_bed):
    response = _add(world, free_bed, source_url="ftp://x/y", width=641)
    text = response.content.decode()
    assert response.status_code == 200 and "Enter an address starting with rtsp://" in text
    assert "Enter an even number" in text and not Camera.objects.filter(bed=free_bed).exists()


def test_editing_keeps_the_password_unless_it_is_changed_and_restarts_the_pipeline(world, free_bed):
    _add(world, free_bed)
    camera = Camera.objects.get(bed=free_bed)
    before = run_config(camera)
    admin = world.client("admin")
    form = {"bed": free_bed.pk, "source_url": camera.source_url, "username": "", "password": "", "width": 640,
            "height": 360, "fps": 25}  # fmt: skip
    admin.post(reverse("camera_edit", args=[camera.pk]), form)
    camera.refresh_from_db()
    assert camera.fps == 25 and "pa%3Ass" in camera.connect_url and run_config(camera) != before
    event = Event.objects.filter(action="camera.changed").last()
    assert event.detail["after"] == {"fps": 25} and event.detail["before"]["fps"] == 10
    admin.post(reverse("camera_edit", args=[camera.pk]), {**form, "forget_credentials": "on"})
    camera.refresh_from_db()
    assert not camera.has_credentials and camera.connect_url == camera.source_url


def test_retiring_frees_the_bed_and_keeps_the_clips(world):
    fam = world.families["a"]
    camera = fam.bed.camera
    world.client("admin").post(reverse("camera_retire", args=[camera.pk]))
    camera.refresh_from_db()
    assert camera.bed is None and camera.retired_at is not None and camera.clips.exists()
    assert not Camera.objects.filter(bed=fam.bed).exists()
    assert Event.objects.filter(action="camera.retired", detail__camera=camera.pk).exists()
    # Another camera can go at that bed now.
    _add(world, fam.bed)
    assert Camera.objects.filter(bed=fam.bed).exists()


def test_nurses_and_other_units_cannot_set_up_cameras(world):
    camera = world.families["a"].bed.camera
    assert world.client("nurse1").get(reverse("cameras", args=[world.unit1.pk])).status_code == 404
    assert world.client("nurse1").get(reverse("camera_edit", args=[camera.pk])).status_code == 404
    assert world.client("nurse1").post(reverse("camera_check", args=[camera.pk])).status_code == 404
    other = world.families["b"].bed.camera
    assert world.client("admin").get(reverse("camera_edit", args=[other.pk])).status_code == 404


def test_health_is_on_the_page_and_in_metrics(world):
    camera = world.families["a"].bed.camera
    Camera.objects.filter(pk=camera.pk).update(
        state=Camera.State.NO_PICTURE,
        seen_at=timezone.now(),
        measured_fps=14.6,
        screened_share=0.25,
        last_error="The camera refused the user name or password; check them in the camera's settings.",
    )
    page = world.client("admin").get(reverse("camera_edit", args=[camera.pk])).content.decode()
    assert "14.6" in page and "25 %" in page and "refused the user name or password" in page
    body = world.client(None).get(reverse("metrics")).content.decode()
    assert f'cradle_camera_connected{{camera="{camera.pk}"}} 0.0' in body
    assert f'cradle_camera_privacy_screen_share{{camera="{camera.pk}"}} 0.25' in body
    assert f'cradle_camera_error{{camera="{camera.pk}"}} 1.0' in body


def test_the_check_shows_one_redacted_picture_with_what_was_masked_outlined(world):
    camera = world.families["a"].bed.camera
    Camera.objects.filter(pk=camera.pk).update(source_url="sim://check-bed?lang=zh")
    response = world.client("admin").post(reverse("camera_check", args=[camera.pk]))
    text = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    assert 'data-ok="yes"' in text and "data:image/jpeg;base64," in text and "outlined in yellow" in text
    event = Event.objects.get(action="camera.checked")
    assert event.detail["ok"] is True and event.detail["masked_areas"] >= 1


def test_the_check_of_a_dead_address_says_why_in_one_line(world):
    camera = world.families["a"].bed.camera
    Camera.objects.filter(pk=camera.pk).update(source_url="rtsp://127.0.0.1:9/none")
    text = world.client("admin").post(reverse("camera_check", args=[camera.pk])).content.decode()
    assert 'data-ok="no"' in text and "Nothing answers at this address and port" in text
