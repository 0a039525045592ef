"""The zone editor: a nurse draws the shown area and mask zones on a frozen, redacted picture; the camera's settings
file changes (its other settings kept), the change is audited with before and after, can be undone, and the worker
applies it to the running stream without a restart."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.urls import reverse

from cradle.audit.models import Event
from cradle.viewing.camera_config import camera_policy, policy_stamp

AREA = [[0.1, 0.2], [0.7, 0.2], [0.7, 0.9], [0.1, 0.9]]
ZONE = [[0.8, 0.0], [1.0, 0.0], [1.0, 0.3], [0.8, 0.3]]


@pytest.fixture
def config_dir(settings, tmp_path):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, camera_config_dir=str(tmp_path))
    return tmp_path


def _save(client, camera, drawn):
    return client.post(reverse("zones_save", args=[camera.pk]), {"drawn": json.dumps(drawn)})


def test_a_nurse_saves_a_shown_area_and_a_zone_and_can_undo_it(world, config_dir):
    camera = world.families["a"].bed.camera
    (config_dir / f"{camera.pk}.json").write_text('{"faces": true, "hold_frames": 10}')
    nurse = world.client("nurse1")
    page = nurse.get(reverse("zones", args=[camera.pk])).content.decode()
    assert reverse("zones_frame", args=[camera.pk]) in page and "cradle/zones.js" in page
    response = _save(nurse, camera, {"shown_area": AREA, "zones": [ZONE]})
    assert response.status_code == 200 and response.json()["ok"] and response.json()["undo"]
    policy = camera_policy(camera.pk)
    assert policy.shown_area == tuple(map(tuple, AREA)) and policy.zones == (tuple(map(tuple, ZONE)),)
    assert policy.faces and policy.hold_frames == 10  # the camera's other settings are kept
    event = Event.objects.get(action="camera.zones_changed")
    assert event.actor_id == world.users["nurse1"].pk and event.at is not None
    assert event.detail["before"] == {"shown_area": None, "zones": []}
    assert event.detail["after"] == {"shown_area": AREA, "zones": [ZONE]}

    second = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]
    _save(nurse, camera, {"shown_area": second, "zones": []})
    undo = nurse.post(reverse("zones_undo", args=[camera.pk])).json()
    assert undo["ok"] and undo["drawn"] == {"shown_area": AREA, "zones": [ZONE]} and undo["undo"]
    assert camera_policy(camera.pk).shown_area == tuple(map(tuple, AREA))
    nurse.post(reverse("zones_undo", args=[camera.pk]))
    assert camera_policy(camera.pk).shown_area is None and camera_policy(camera.pk).zones == ()
    last = nurse.post(reverse("zones_undo", args=[camera.pk]))
    assert last.status_code == 409
    assert Event.objects.filter(action="camera.zones_changed").count() == 4


def test_a_malformed_drawing_is_refused_and_nothing_changes(world, config_dir):
    camera = world.families["a"].bed.camera
    nurse = world.client("nurse1")
    for drawn in ({"shown_area": [[0.1, 0.1], [2, 0.1], [0.5, 0.5]]}, {"shown_area": [[0.1, 0.1]]}, "x", []):
        response = _save(nurse, camera, drawn)
        assert response.status_code == 400 and response.json()["error"]
    response = nurse.post(reverse("zones_save", args=[camera.pk]), {"drawn": "{not json"})
    assert response.status_code == 400
    assert not (config_dir / f"{camera.pk}.json").exists()


def test_the_worker_sees_the_change(world, config_dir):
    camera = world.families["a"].bed.camera
    before = policy_stamp(camera.pk)
    _save(world.client("nurse1"), camera, {"shown_area": AREA, "zones": []})
    assert policy_stamp(camera.pk) != before


def test_another_units_nurse_and_families_cannot_draw(world, config_dir):
    camera = world.families["a"].bed.camera
    for who in ("nurse2", "parent_a", "admin"):
        assert _save(world.client(who), camera, {"shown_area": AREA, "zones": []}).status_code == 404
    assert world.client("parent_a").get(reverse("zones_frame", args=[camera.pk])).status_code == 404


def test_the_frozen_picture_is_redacted_and_never_raw(world, config_dir):
    import cv2
    import numpy as np

    from cradle.media.sim import SimCamera, settings_from_url
    from cradle.unit.models import Camera

    url = "sim://zones-bed?lang=en"
    camera = world.families["a"].bed.camera
    Camera.objects.filter(pk=camera.pk).update(source_url=url)
    # A shown area is set, yet the picture to draw on leaves it off (and the zones): only detected text is masked.
    _save(world.client("nurse1"), camera, {"shown_area": [[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]], "zones": []})
    response = world.client("nurse1").get(reverse("zones_frame", args=[camera.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR).astype(int)
    raw = SimCamera(settings_from_url(url)).frame(0)
    # Every line of the bed card's text is masked (the fill, outlined): far from the raw picture there.
    for line in raw.phi:
        quad = np.array(line.quad, np.int32)
        inside = np.zeros(picture.shape[:2], np.uint8)
        cv2.fillConvexPoly(inside, quad, 1)
        where = inside.astype(bool)
        assert np.abs(picture[where] - 48).mean() < 30, line.text
    # Outside the shown area the picture is there to draw around (not masked).
    assert np.abs(picture[10:60, 10:60] - 48).mean() > 30
    assert Event.objects.filter(action="camera.zone_picture", detail__ok=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_saved_shown_area_reaches_the_running_stream_without_a_restart(world, config_dir):
    import threading
    import time

    import numpy as np

    from cradle.media.hls import decode
    from cradle.media.redact import DetectorPool
    from cradle.media.redact.pool import WardDetectors
    from cradle.unit.models import Camera
    from cradle.viewing import storage
    from cradle.viewing.models import LiveSegment
    from cradle.worker.pipelines import Worker
    from tests.test_worker import NoText

    fam = world.families["a"]
    camera = fam.bed.camera
    Camera.objects.filter(pk=camera.pk).update(source_url="sim://zones-live?size=160x120&fps=10")
    Camera.objects.filter(pk=world.families["b"].bed.camera.pk).update(source_url="sim://other?size=96x72&fps=2")
    # The scene's monitor would be masked whole (cradle.media.redact.monitors) whatever the shown area: off here, so
    # that only the shown area decides how much of the picture is masked.
    (config_dir / f"{camera.pk}.json").write_text(json.dumps({"monitors": False}))
    stop = threading.Event()
    worker = Worker(pool=DetectorPool(lambda: WardDetectors(NoText()), workers=1, backlog=64))
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2), daemon=True)
    thread.start()

    def masked_share(row) -> float:
        data = storage.segment_store().get(fam.admission.media_id, str(camera.pk), row.index, "A" * row.units)
        frame = decode(data)[-1].astype(int)
        return float((np.abs(frame - 48).max(axis=2) < 12).mean())

    def newest():
        return LiveSegment.objects.filter(camera=camera, index__gt=0, screened=0).order_by("-index").first()

    try:
        end = time.monotonic() + 60
        while newest() is None and time.monotonic() < end:
            time.sleep(0.2)
        first = newest()
        assert first is not None and masked_share(first) < 0.5
        run = worker.runs[camera.pk]
        saved_at = newest().index
        tiny = [[0.45, 0.45], [0.55, 0.45], [0.55, 0.55], [0.45, 0.55]]
        _save(world.client("nurse1"), camera, {"shown_area": tiny, "zones": []})
        end = time.monotonic() + 30
        while time.monotonic() < end:
            row = newest()
            if row is not None and row.index > saved_at and masked_share(row) > 0.9:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the new shown area never reached the stream")
        assert worker.runs[camera.pk] is run  # applied to the running pipeline, not by restarting it
    finally:
        stop.set()
        thread.join(timeout=60)
        worker.pool.close()
