"""Discharge, the grace period, transfer, the retention run and `cradle retention verify`."""

from __future__ import annotations

import io
import shutil
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle import lifecycle, scope
from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.store import LocalDisk, MasterKey, MasterKeyError, SegmentStore, StoreError
from cradle.retention import service
from cradle.retention.ledger import LedgerError
from cradle.unit.models import Admission, Bed, Camera
from cradle.viewing import delivery, storage
from cradle.viewing.models import Clip, LiveSegment
from tests.conftest import sign_in
from tests.test_viewing import SEGMENTS, playlist_urls, stored


def decryptable(folder) -> tuple[int, int]:
    """(objects tried, objects that decrypted) over every segment file under `folder`, with a store opened afresh."""
    master = MasterKey.load(settings.MASTER_KEY_FILE)
    store = SegmentStore(LocalDisk(folder), master)
    tried = opened = 0
    for path in sorted(folder.rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith(".")
            or path.name == "datakey.sealed"
            or "/" not in str(path.relative_to(folder))
        ):
            continue
        tried += 1
        try:
            store.open_object(path.relative_to(folder).as_posix())
        except (StoreError, MasterKeyError):
            continue
        opened += 1
    return tried, opened


def verify_output() -> str:
    out = io.StringIO()
    call_command("retention", "verify", stdout=out)
    return out.getvalue()


def test_the_lifecycle_from_discharge_to_destroyed_media(world, fresh_storage, capsys):
    fam = world.families["a"]
    stored(fam)
    clip = Clip.objects.get(pk=fam.clip_id)  # holds segment 0, which outlives the live buffer
    parent = world.client("parent_a")
    live_url = playlist_urls(parent, fam)[0]
    assert parent.get(live_url).status_code == 200

    response = world.client("nurse1").post(reverse("discharge", args=[fam.admission.pk]))
    assert response.status_code == 302
    fam.admission.refresh_from_db()
    assert fam.admission.discharged_at is not None
    # Every family session ended at once: the open player's next segment is refused.
    assert parent.get(live_url).status_code == 404
    assert not DeviceSession.objects.filter(user__in=[fam.parent, fam.relative], ended_at__isnull=True).exists()
    # The camera stopped and the live buffer went; the clip stayed.
    assert Camera.objects.get(pk=fam.bed.camera.pk).state == Camera.State.OFFLINE
    assert not Admission.objects.filmed().filter(pk=fam.admission.pk).exists()
    assert not LiveSegment.objects.filter(admission=fam.admission, in_clip=False).exists()
    assert storage.segment_store().segments(fam.admission.media_id, str(fam.bed.camera.pk)) == [
        (0, "A"),
        (0, "B"),
        (0, "ref"),
    ]
    assert Event.objects.filter(action="admission.discharged", admission_id=fam.admission.pk).exists()

    # Signed in again during the grace period: clips and keepsakes, with a banner, and no live picture.
    again = Client()
    sign_in(again, fam.parent)
    page = again.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert "destroyed for good" in page and 'data-state="discharged"' in page
    assert "<video" not in page and "data-playlist" not in page
    assert again.get(reverse("clip", args=[clip.pk])).status_code == 200
    body = again.get(reverse("clip_playlist", args=[clip.pk])).content.decode()
    clip_url = next(line for line in body.splitlines() if line.startswith("/v/"))
    assert again.get(clip_url).status_code == 200
    # No live picture is left to list: whatever the playlist address still names is the family's own clip.
    live = again.get(reverse("live_playlist", args=[fam.admission.pk])).content.decode()
    listed = [delivery.open_ticket(u[3:-3]).segment_id for u in live.splitlines() if u.startswith("/v/")]
    assert set(LiveSegment.objects.filter(pk__in=listed).values_list("in_clip", flat=True)) <= {True}
    assert again.get(reverse("family", args=[fam.admission.pk])).status_code == 404
    # Keepsakes too, for parents (tests/test_viewing.py makes one from a real clip), and not for relatives.
    assert scope.get_parent_clip(fam.parent, clip.pk) == clip
    with pytest.raises(Http404):
        scope.get_parent_clip(fam.relative, clip.pk)

    # Copies of the sealed media made before the end (a replica, a cache, a stolen disk) must die with the key.
    copies = fresh_storage / "copies"
    shutil.copytree(settings.MEDIA_DIR, copies, ignore=shutil.ignore_patterns("datakey.sealed"))

    # Still within the grace period: the retention run keeps everything.
    assert service.run()["admissions_shredded"] == 0
    Admission.objects.filter(pk=fam.admission.pk).update(discharged_at=timezone.now() - timedelta(days=31))
    out = io.StringIO()
    call_command("retention", "run", stdout=out)
    assert "admissions shredded: 1" in out.getvalue()

    assert again.get(reverse("clip", args=[clip.pk])).status_code == 404
    assert again.get(clip_url).status_code == 404
    assert again.get(reverse("baby", args=[fam.admission.pk])).status_code == 404
    tried, opened = decryptable(settings.MEDIA_DIR)
    assert opened == 0
    tried, opened = decryptable(copies)
    assert tried == 3 and opened == 0  # segment 0 in three variants, every one unreadable
    assert not [p for p in (settings.MEDIA_DIR / fam.admission.media_id).rglob("*") if p.is_file()]
    assert fam.admission.media_id in service.ledger().media_ids()
    assert not LiveSegment.objects.filter(admission=fam.admission).exists()
    # The audit log keeps the story, never the pictures.
    for detail in Event.objects.values_list("detail", flat=True):
        assert "A:" not in str(detail) and "ref:" not in str(detail)

    # The proof, as an operator runs it, including the copies that were put back in storage.
    shutil.copytree(copies / fam.admission.media_id, settings.MEDIA_DIR / fam.admission.media_id, dirs_exist_ok=True)
    printed = verify_output()
    with capsys.disabled():
        print("\n$ cradle retention verify (after the lifecycle test)\n" + printed)
    assert "violations: 0" in printed and "undecryptable: 3" in printed


def test_verify_fails_when_expired_media_can_still_be_read(world, fresh_storage):
    a, b = world.families["a"], world.families["b"]
    stored(a)
    stored(b)
    verify_output()  # nothing expired yet
    # Marked destroyed but its key is still there (as if the key had been put back).
    Admission.objects.filter(pk=a.admission.pk).update(shredded_at=timezone.now())
    # Past its grace period without a retention run.
    Admission.objects.filter(pk=b.admission.pk).update(discharged_at=timezone.now() - timedelta(days=60))
    err = io.StringIO()
    with pytest.raises(CommandError, match="not proven"):
        call_command("retention", "verify", stdout=io.StringIO(), stderr=err)
    assert f"data key of expired admission {a.admission.media_id} is still stored" in err.getvalue()
    assert f"admission {b.admission.pk} is past its grace period" in err.getvalue()
    assert "can still be decrypted" in err.getvalue()
    service.run()
    # The leftovers of a shredded admission (a segment sealed just after its key went) leave with the next run.
    assert not LiveSegment.objects.filter(admission=a.admission).exists()
    Admission.objects.filter(pk=a.admission.pk).update(shredded_at=None)
    service.shred(Admission.objects.get(pk=a.admission.pk), "retention")
    assert "violations: 0" in verify_output()


def test_the_live_buffer_is_kept_for_minutes(world, fresh_storage):
    fam = world.families["a"]
    rows = stored(fam)
    old = timezone.now() - timedelta(seconds=settings.CRADLE.live_buffer_seconds + 1)
    LiveSegment.objects.filter(pk__in=[r.pk for r in rows[:5]]).update(created_at=old)
    assert service.run()["live_segments_expired"] == 5
    assert LiveSegment.objects.filter(admission=fam.admission, in_clip=False).count() == SEGMENTS - 5
    kept = {i for i, _ in storage.segment_store().segments(fam.admission.media_id, str(fam.bed.camera.pk))}
    assert kept == {0, *range(6, SEGMENTS + 1)}


def test_the_grace_period_is_a_unit_setting(world, fresh_storage):
    fam = world.families["a"]
    stored(fam)
    admin = world.client("admin")
    form = {"idle_timeout_minutes": 30, "session_lifetime_hours": 12, "relative_cap": 4, "parent_cap": 2}
    assert admin.post(reverse("unit_settings", args=[fam.unit.pk]), {**form, "grace_days": 365}).status_code == 200
    admin.post(reverse("unit_settings", args=[fam.unit.pk]), {**form, "grace_days": 7})
    fam.unit.refresh_from_db()
    assert fam.unit.grace_days == 7
    lifecycle.discharge(fam.admission)
    Admission.objects.filter(pk=fam.admission.pk).update(discharged_at=timezone.now() - timedelta(days=8))
    assert world.client("parent_a").get(reverse("clip", args=[fam.clip_id])).status_code == 404
    assert service.run()["admissions_shredded"] == 1


def test_a_transfer_moves_the_baby_and_keeps_the_family_watching(world, fresh_storage):
    fam = world.families["a"]
    stored(fam)
    target = Bed.objects.create(unit=world.unit2, label="T9")
    Camera.objects.create(bed=target, source_url="sim://t9")
    parent = world.client("parent_a")
    assert parent.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    nurse = world.client("nurse1")
    page = nurse.get(reverse("transfer", args=[fam.admission.pk])).content.decode()
    assert "Special Care Nursery · T9" in page and f">{world.families['b'].bed.label}<" not in page  # taken beds
    response = nurse.post(reverse("transfer", args=[fam.admission.pk]), {"bed": target.pk})
    assert response["Location"] == reverse("board", args=[world.unit1.pk])
    fam.admission.refresh_from_db()
    assert (fam.admission.unit_id, fam.admission.bed_id) == (world.unit2.pk, target.pk)
    # Same sessions, same key, same clips: the family does not notice.
    assert parent.get(reverse("baby", args=[fam.admission.pk])).status_code == 200
    assert parent.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    assert parent.get(reverse("clip", args=[fam.clip_id])).status_code == 200
    assert DeviceSession.objects.filter(user=fam.parent, ended_at__isnull=True).exists()
    assert Admission.objects.filmed().filter(pk=fam.admission.pk, bed__camera__pk=target.camera.pk).exists()
    # The old unit lets go; the new one takes over.
    assert nurse.get(reverse("bed", args=[target.pk])).status_code == 404
    assert world.client("nurse2").get(reverse("bed", args=[target.pk])).status_code == 200
    units = set(Event.objects.filter(action="admission.transferred").values_list("unit_id", flat=True))
    assert units == {world.unit1.pk, world.unit2.pk}
    # A bed that is taken is refused with a sentence, not an error page.
    taken = Bed.objects.create(unit=world.unit1, label="X1")
    Admission.objects.create(unit=world.unit1, bed=taken, admitted_by=world.users["nurse1"])
    with pytest.raises(lifecycle.TransferError, match="no longer free"):
        lifecycle.transfer(Admission.objects.get(pk=fam.admission.pk), taken)


def test_an_altered_shred_ledger_is_detected(world, fresh_storage):
    fam = world.families["a"]
    stored(fam)
    service.shred(fam.admission, "retention")
    path = settings.SHRED_LEDGER_FILE
    lines = path.read_text().splitlines()
    assert lines[0] == "cradle-shred-ledger-v1" and fam.admission.media_id in lines[1]
    path.write_text("\n".join([lines[0], lines[1].replace(fam.admission.media_id, "0" * 32)]) + "\n")
    with pytest.raises(LedgerError, match="altered at line 2"):
        service.ledger().entries()
    with pytest.raises(CommandError):
        call_command("retention", "verify", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_missing_or_wrong_master_key_stops_the_commands_with_one_sentence(world, settings, tmp_path):
    storage.forget()
    storage.segment_store()  # the storage is sealed under the right key
    storage.forget()
    try:
        settings.MASTER_KEY_FILE = tmp_path / "absent.key"
        for command in (["worker"], ["retention", "run"], ["retention", "verify"], ["backup", str(tmp_path / "b")]):
            with pytest.raises(CommandError, match=r"master key file .* does not exist"):
                call_command(*command, stdout=io.StringIO())
        assert not (tmp_path / "b").exists()
        storage.forget()
        settings.MASTER_KEY_FILE = tmp_path / "other.key"
        MasterKey.create(settings.MASTER_KEY_FILE)
        with pytest.raises(CommandError, match="does not match"):
            call_command("retention", "verify", stdout=io.StringIO())
    finally:
        storage.forget()


def test_the_schedule_queues_retention_and_the_task_applies_it(world, fresh_storage):
    from django_tasks_db.models import DBTaskResult

    from cradle import tasks

    fam = world.families["a"]
    stored(fam)
    lifecycle.discharge(fam.admission)
    Admission.objects.filter(pk=fam.admission.pk).update(discharged_at=timezone.now() - timedelta(days=31))
    tasks.Schedule().tick()  # what the worker holding the housekeeping lease does every round
    assert DBTaskResult.objects.filter(task_path="cradle.tasks.apply_retention", status="READY").count() == 1
    # The queue's runner is tested in tests/test_tasks.py; here the queued task itself does the work.
    assert tasks.apply_retention.call() is True
    assert Admission.objects.get(pk=fam.admission.pk).shredded_at is not None


@pytest.mark.nodb
def test_the_command_line_refuses_to_start_without_the_master_key(tmp_path):
    """As an operator sees it: one sentence on stderr, a non-zero exit, no traceback, nothing served."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    cradle = Path(sys.executable).with_name("cradle")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL"))}
    env["CRADLE_DATA_DIR"] = str(tmp_path)
    (tmp_path / "x").write_bytes(b"a backup")
    commands = (["serve", "--bind", "127.0.0.1:1"], ["retention", "verify"], ["restore", str(tmp_path / "x")])
    # Started together: each spends its second or two loading Django and the media libraries before it refuses.
    started = [
        subprocess.Popen([str(cradle), *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    try:
        for command, process in zip(commands, started, strict=True):
            _, stderr = process.communicate(timeout=120)
            assert process.returncode != 0, command
            assert "Traceback" not in stderr and "master key file" in stderr, command
            assert len(stderr.strip().splitlines()) == 1, stderr
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
