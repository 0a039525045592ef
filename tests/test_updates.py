"""Care-team updates: a nurse's words and photo reach the family, checked, sealed, scoped, audited and destroyed like
video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from cradle.audit.models import Event
from cradle.media.store import StoreError
from cradle.retention import service as retention
from cradle.unit.models import inpatient_digest
from cradle.updates import photos, sealed
from cradle.updates.models import RelativeView, Update
from tests.test_viewing import real_clip

WORDS = "Slept well after her feed, first cuddle with mum tomorrow."


def _send(client, admission, **data):
    """Writes an update; with a photo, looks at it as the nurse does, then sends it."""
    url = reverse("compose_update", args=[admission.pk])
    response = client.post(url, {"text": WORDS, **data})
    draft = Update.objects.filter(sent_at__isnull=True).order_by("-pk").first()
    if data.get("photo") not in ("live", "upload") or response.status_code != 200 or draft is None:
        return response
    assert reverse("update_draft_photo", args=[draft.pk]) in response.content.decode()
    kept = {k: v for k, v in data.items() if k not in ("photo", "upload")}
    return client.post(url, {"text": WORDS, **kept, "photo": "taken", "draft": str(draft.pk)})


def _jpeg(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_the_bed_page_offers_an_update(world):
    fam = world.families["a"]
    body = world.client("nurse1").get(reverse("bed", args=[fam.bed.pk])).content.decode()
    assert reverse("compose_update", args=[fam.admission.pk]) in body


def test_a_nurse_sends_words_and_a_photo_from_the_live_picture_and_the_family_sees_them(world):
    fam = world.families["a"]
    real_clip(fam, 2)
    response = _send(world.client("nurse1"), fam.admission, photo="live")
    assert response.status_code == 302
    update = Update.objects.get()
    assert update.has_photo and update.photo_source == "live"
    # The words are sealed under the baby's key, not kept in the database or on disk in the clear.
    assert sealed.text(update) == WORDS
    media = Path(settings.MEDIA_DIR)
    assert not any(WORDS.encode() in p.read_bytes() for p in media.rglob("*") if p.is_file())
    parent = world.client("parent_a")
    body = parent.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert WORDS in body and reverse("update_photo", args=[update.pk]) in body
    shown = parent.get(reverse("update_photo", args=[update.pk]))
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert "no-store" in shown["Cache-Control"]
    stored = _jpeg(sealed.photo(update))
    seen = _jpeg(shown.content)
    assert seen.shape == stored.shape
    # The viewer code is burned along the bottom: the band differs from the stored photo far more than the mark does.
    band = slice(seen.shape[0] - 20, seen.shape[0])
    burned = np.abs(seen[band].astype(int) - stored[band].astype(int)).mean()
    above = np.abs(seen[:40].astype(int) - stored[:40].astype(int)).mean()
    assert burned > 10 and burned > 3 * above
    sent = Event.objects.get(action="update.sent")
    assert sent.actor_id == world.users["nurse1"].pk and sent.admission_id == fam.admission.pk
    assert WORDS not in str(sent.detail)
    photo_event = Event.objects.get(action="update.photo")
    assert photo_event.actor_id == fam.parent.pk and photo_event.detail["variant"] in (0, 1) and photo_event.session
    assert Event.objects.filter(action="update.view", actor_id=fam.parent.pk).exists()


def test_no_live_picture_means_no_photo_and_nothing_sent(world):
    fam = world.families["a"]
    response = _send(world.client("nurse1"), fam.admission, photo="live")
    assert response.status_code == 200 and "no live picture" in response.content.decode()
    assert not Update.objects.exists()


def test_updates_are_scoped_like_media(world):
    fam_a, fam_b = world.families["a"], world.families["b"]
    _send(world.client("nurse1"), fam_a.admission)
    update = Update.objects.get()
    assert _send(world.client("nurse2"), fam_a.admission).status_code == 404
    assert _send(world.client("parent_a"), fam_a.admission).status_code == 404
    assert world.client("parent_b").get(reverse("update_photo", args=[update.pk])).status_code == 404
    body = world.client("parent_b").get(reverse("baby", args=[fam_b.admission.pk])).content.decode()
    assert WORDS not in body


def test_parents_choose_that_a_relative_does_not_see_updates(world):
    fam = world.families["a"]
    real_clip(fam, 2)
    _send(world.client("nurse1"), fam.admission, photo="live")
    update = Update.objects.get()
    relative = world.client("relative_a")
    assert WORDS in relative.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    parent = world.client("parent_a")
    page = parent.get(reverse("update_relatives", args=[fam.admission.pk])).content.decode()
    assert "Relative A" in page
    parent.post(reverse("relative_view", args=[fam.relative_membership.pk]), {"sees_updates": "no"})
    assert RelativeView.objects.get(membership=fam.relative_membership).sees_updates is False
    assert WORDS not in relative.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert relative.get(reverse("update_photo", args=[update.pk])).status_code == 404
    # A relative cannot change it, nor reach the page.
    assert relative.get(reverse("update_relatives", args=[fam.admission.pk])).status_code == 404
    assert Event.objects.filter(action="update.audience_changed", actor_id=fam.parent.pk).exists()


def test_identifying_words_are_shown_back_before_sending(world):
    fam = world.families["a"]
    fam.admission.inpatient_digest = inpatient_digest("IP2026-00417")
    fam.admission.save()
    nurse = world.client("nurse1")
    text = "Parent A visited. IP 2026 00417, born on 2026-11-30."
    response = nurse.post(reverse("compose_update", args=[fam.admission.pk]), {"text": text})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="phi-warning"' in body
    assert "inpatient number" in body and "Parent A" in body and "2026-11-30" in body
    assert not Update.objects.exists()
    nurse.post(reverse("compose_update", args=[fam.admission.pk]), {"text": text, "send_anyway": "yes"})
    assert Update.objects.count() == 1
    assert set(Event.objects.get(action="update.sent").detail["warned"]) >= {"inpatient", "name", "date", "birth"}


def _card(text: str = "WANG XIAOMING 2026-11-30") -> bytes:
    image = np.full((360, 640, 3), 235, np.uint8)
    cv2.putText(image, text, (30, 190), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (20, 20, 20), 3, cv2.LINE_AA)
    _ok, data = cv2.imencode(".png", image)
    return data.tobytes()


def test_an_uploaded_photo_is_redacted_like_video(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fam = world.families["a"]
    upload = SimpleUploadedFile("card.png", _card(), content_type="image/png")
    response = _send(world.client("nurse1"), fam.admission, photo="upload", upload=upload)
    assert response.status_code == 302
    kept = _jpeg(sealed.photo(Update.objects.get()))
    original = _jpeg(_card())
    # Where the words were, nothing of them is left: the row is masked to one flat tone from the first letter to the
    # last (the blank paper beyond them may show).
    row = slice(160, 200)
    words = np.where((original[row] < 120).all(axis=2).any(axis=0))[0]
    assert original[row].std() > 40 and kept[row, words.min() : words.max() + 1].std() < 20


def test_an_upload_that_cannot_be_checked_is_refused(world, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def broken():
        raise RuntimeError("detector unavailable")

    monkeypatch.setattr(photos, "default_detectors", lambda faces=False: broken)
    fam = world.families["a"]
    upload = SimpleUploadedFile("card.png", _card(), content_type="image/png")
    response = _send(world.client("nurse1"), fam.admission, photo="upload", upload=upload)
    assert response.status_code == 200 and "could not be checked" in response.content.decode()
    assert not Update.objects.exists()
    assert Event.objects.filter(action="update.photo_refused", outcome="failed").exists()


def test_a_file_that_is_not_a_photo_is_refused_with_one_sentence(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fam = world.families["a"]
    upload = SimpleUploadedFile("card.png", b"not a picture at all", content_type="image/png")
    response = _send(world.client("nurse1"), fam.admission, photo="upload", upload=upload)
    assert response.status_code == 200 and not Update.objects.exists()


def test_shredding_the_admission_destroys_its_updates(world):
    fam = world.families["a"]
    real_clip(fam, 2)
    _send(world.client("nurse1"), fam.admission, photo="live")
    update = Update.objects.get()
    retention.shred(fam.admission, "test")
    assert not Update.objects.exists()
    with pytest.raises(StoreError):
        sealed.photo(update)
    assert sealed.text(update) is None


def test_an_update_can_point_to_a_kept_clip(world):
    fam = world.families["a"]
    response = _send(world.client("nurse1"), fam.admission, clip=str(fam.clip_id))
    assert response.status_code == 302
    update = Update.objects.get()
    assert update.clip_id == fam.clip_id and not update.has_photo
    body = world.client("parent_a").get(reverse("baby", args=[fam.admission.pk])).content.decode()
    # The clip shows once, inside the update that points to it.
    assert body.count(reverse("clip", args=[fam.clip_id])) == 1 and WORDS in body


def test_another_babys_clip_cannot_be_attached(world):
    fam_a, fam_b = world.families["a"], world.families["b"]
    response = _send(world.client("nurse1"), fam_a.admission, clip=str(fam_b.clip_id))
    assert response.status_code == 200 and not Update.objects.exists()


def test_parents_see_who_looked_at_a_care_team_photo(world):
    fam = world.families["a"]
    real_clip(fam, 2)
    _send(world.client("nurse1"), fam.admission, photo="live")
    update = Update.objects.get()
    assert world.client("relative_a").get(reverse("update_photo", args=[update.pk])).status_code == 200
    body = world.client("parent_a").get(reverse("who_watched", args=[fam.admission.pk])).content.decode()
    assert "Relative A" in body and "saw a photo from the care team" in body


def test_a_photo_claiming_a_huge_picture_is_refused_before_decoding(world):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from cradle.updates.photos import PhotoRefused, redact_upload

    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, format="PNG")  # 81 megapixels in a few kilobytes
    with pytest.raises(PhotoRefused, match="too large"):
        redact_upload(buffer.getvalue())
    fam = world.families["a"]
    upload = SimpleUploadedFile("big.png", buffer.getvalue(), content_type="image/png")
    assert _send(world.client("nurse1"), fam.admission, photo="upload", upload=upload).status_code == 200
    assert not Update.objects.exists()


def test_the_nurse_sees_the_photo_before_it_is_sent_and_the_family_does_not(world):
    fam = world.families["a"]
    real_clip(fam, 2)
    nurse = world.client("nurse1")
    url = reverse("compose_update", args=[fam.admission.pk])
    response = nurse.post(url, {"text": WORDS, "photo": "live"})
    draft = Update.objects.get()
    assert response.status_code == 200 and draft.sent_at is None and draft.has_photo
    preview = nurse.get(reverse("update_draft_photo", args=[draft.pk]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    # Nobody else sees a draft: not the family, not another nurse, not on the timeline.
    assert world.client("parent_a").get(reverse("update_photo", args=[draft.pk])).status_code == 404
    assert world.client("parent_a").get(reverse("update_draft_photo", args=[draft.pk])).status_code == 404
    assert world.client("nurse2").get(reverse("update_draft_photo", args=[draft.pk])).status_code == 404
    assert WORDS not in world.client("parent_a").get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert not Event.objects.filter(action="update.sent").exists()
    # Choosing no photo after all sends the words alone and destroys the photo taken.
    nurse.post(url, {"text": WORDS, "photo": "", "draft": str(draft.pk)})
    (sent,) = Update.objects.all()
    assert sent.sent_at is not None and not sent.has_photo
    with pytest.raises(StoreError):
        sealed.photo(draft)


def test_an_uploaded_photo_survives_the_warning_about_the_words(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fam = world.families["a"]
    nurse = world.client("nurse1")
    url = reverse("compose_update", args=[fam.admission.pk])
    upload = SimpleUploadedFile("cot.png", _card("  "), content_type="image/png")
    text = "Weighed again on 2026-11-30."
    response = nurse.post(url, {"text": text, "photo": "upload", "upload": upload})
    assert 'id="phi-warning"' in response.content.decode()
    draft = Update.objects.get()
    nurse.post(url, {"text": text, "photo": "taken", "draft": str(draft.pk), "send_anyway": "yes"})
    draft.refresh_from_db()
    assert draft.sent_at is not None and draft.has_photo and draft.photo_source == "upload"


def test_a_draft_not_sent_within_the_hour_is_destroyed(world):
    from datetime import timedelta

    from django.utils import timezone

    from cradle.updates import service

    fam = world.families["a"]
    real_clip(fam, 2)
    world.client("nurse1").post(reverse("compose_update", args=[fam.admission.pk]), {"text": WORDS, "photo": "live"})
    draft = Update.objects.get()
    assert service.forget_drafts() == 0
    Update.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert retention.run()["update_drafts_destroyed"] == 1 and not Update.objects.exists()
    with pytest.raises(StoreError):
        sealed.photo(draft)
