"""A camera's state is what its pipeline reports now: stale reports (a worker that died) read as offline, and a
camera's password never sits in its address at rest."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from cradle.media.camera_url import describe_failure, split_credentials, with_credentials, without_credentials
from cradle.unit.models import Camera


def test_a_report_older_than_the_heartbeat_reads_as_offline(world):
    camera = world.families["a"].bed.camera
    Camera.objects.filter(pk=camera.pk).update(state=Camera.State.LIVE, seen_at=timezone.now())
    assert Camera.objects.get(pk=camera.pk).shown_state == "live"
    # The worker died: its last report stays behind, but no heartbeat comes.
    Camera.objects.filter(pk=camera.pk).update(seen_at=timezone.now() - timedelta(seconds=30))
    assert Camera.objects.get(pk=camera.pk).shown_state == "offline"
    Camera.objects.filter(pk=camera.pk).update(seen_at=None)
    assert Camera.objects.get(pk=camera.pk).shown_state == "offline"


def test_credentials_in_a_camera_address_are_sealed_apart_and_given_back_only_to_connect(world):
    camera = world.families["a"].bed.camera
    camera.source_url = "rtsp://ward%40cam:p%3Ass word@10.0.0.7:554/stream1"
    camera.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT source_url, source_credentials FROM unit_camera WHERE id = %s", [camera.pk])
        row = " ".join(cursor.fetchone())
    assert "p:ss word" not in row and "p%3Ass" not in row and "ward" not in row
    camera = Camera.objects.get(pk=camera.pk)
    assert camera.source_url == "rtsp://10.0.0.7:554/stream1" and camera.has_credentials
    assert camera.connect_url == "rtsp://ward%40cam:p%3Ass%20word@10.0.0.7:554/stream1"


def test_camera_addresses_round_trip_and_are_shown_without_credentials():
    url = "rtsp://admin:secret@cam.local/live"
    assert without_credentials(url) == "rtsp://cam.local/live"
    assert with_credentials(*split_credentials(url)) == url
    assert split_credentials("sim://bed-1?size=160x120") == ("sim://bed-1?size=160x120", "")


def test_a_failure_is_one_sentence_without_the_password():
    url = "rtsp://admin:secret@cam.local/live"
    for error in (ConnectionRefusedError(111, "refused", url), TimeoutError("timed out"), OSError("odd " + url), None):
        text = describe_failure(error, url)
        assert "secret" not in text and text.endswith(".") and "\n" not in text
