"""The ward board for 3 a.m.: a tile per occupied bed with its small live redacted picture (the nurse's own marked
variant, audited) and what the family sees; free beds compact, with no pause buttons."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
from django.urls import reverse
from django.utils import timezone

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter
from cradle.unit.models import Bed, Camera
from cradle.viewing import delivery, storage, variants
from cradle.viewing.models import LiveSegment, ServedVariant


def real_segment(fam, index: int = 1, shade: int = 90) -> LiveSegment:
    """One real, marked 1 s segment of a grey picture, stored and indexed as the worker leaves it."""
    camera = fam.bed.camera
    writer = SegmentWriter(storage.mark_key(), str(camera.pk), 160, 120, 10, index)
    image = np.full((120, 160, 3), shade, np.uint8)
    [segment] = [s for i in range(10) for s in writer.write(SafeFrame(image, i, None, None, 0.0, False))]
    store = storage.segment_store()
    store.admit(fam.admission.media_id)
    for variant, data in segment.objects().items():
        store.put(fam.admission.media_id, str(camera.pk), index, variant, data)
    return LiveSegment.objects.create(
        camera=camera,
        admission=fam.admission,
        index=index,
        started_at=timezone.now(),
        duration=1.0,
        frames=10,
        units=len(segment.units),
    )


def test_the_board_has_a_tile_per_occupied_bed_and_free_beds_in_one_line(world):
    fam = world.families["a"]
    free = Bed.objects.create(unit=world.unit1, label="f7")
    Camera.objects.create(bed=free, source_url="sim://f7")
    real_segment(fam)
    page = world.client("nurse1").get(reverse("board", args=[world.unit1.pk])).content.decode()
    tiles = page.split('class="bed-tile')[1:]
    assert len(tiles) == 1 and f'data-bed="{fam.bed.label}"' in tiles[0]
    assert reverse("live_still", args=[fam.admission.pk]) in tiles[0]
    assert reverse("pause_camera", args=[fam.bed.camera.pk]) in tiles[0]
    # The free bed: a link to admit, no picture, no pause button, no reasons list.
    assert 'class="free-bed"' in page and reverse("bed", args=[free.pk]) in page
    assert reverse("pause_camera", args=[free.camera.pk]) not in page and "<select" not in page


def test_one_tap_pauses_and_the_tile_says_how_long_is_left(world):
    fam = world.families["a"]
    nurse = world.client("nurse1")
    nurse.post(reverse("pause_camera", args=[fam.bed.camera.pk]), {"reason": "care", "minutes": "20", "from": "board"})
    assert Camera.objects.get(pk=fam.bed.camera.pk).is_paused
    page = nurse.get(reverse("board", args=[world.unit1.pk])).content.decode()
    assert 'data-picture="paused"' in page and ("20 min left" in page or "19 min left" in page)
    assert reverse("resume_camera", args=[fam.bed.camera.pk]) in page


def test_the_still_is_the_nurses_own_marked_variant_and_is_audited(world):
    fam = world.families["a"]
    row = real_segment(fam)
    nurse = world.client("nurse1")
    response = nurse.get(reverse("live_still", args=[fam.admission.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("no-store")
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (120, 160) and abs(float(image.mean()) - 90) < 12
    device = DeviceSession.objects.get(session_key=nurse.session.session_key)
    served = ServedVariant.objects.get(user=world.users["nurse1"], camera=fam.bed.camera, index=row.index)
    due = variants.session_letters(delivery.session_key(device), fam.bed.camera.pk, row.index, row.units)
    assert variants.letters(served.variant) == due
    assert Event.objects.filter(action="live.still", outcome="ok", actor_id=world.users["nurse1"].pk).exists()
    # Another unit's nurse and another family get nothing.
    assert world.client("nurse2").get(reverse("live_still", args=[fam.admission.pk])).status_code == 404
    assert world.client("parent_b").get(reverse("live_still", args=[fam.admission.pk])).status_code == 404


def test_no_still_when_the_picture_is_stale(world):
    fam = world.families["a"]
    row = real_segment(fam)
    LiveSegment.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    response = world.client("nurse1").get(reverse("live_still", args=[fam.admission.pk]))
    assert response.status_code == 204 and not response.content


def test_family_members_watching_now_are_counted(world):
    fam = world.families["a"]
    row = real_segment(fam)
    ServedVariant.objects.create(
        user=fam.parent, camera=fam.bed.camera, index=row.index, variant=0, session="x", at=timezone.now()
    )
    page = world.client("nurse1").get(reverse("board", args=[world.unit1.pk])).content.decode()
    assert "1 watching now" in page
