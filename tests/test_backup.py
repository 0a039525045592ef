"""`cradle backup OUT` and `cradle restore IN`: encrypted, complete, and no destroyed key comes back."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from cradle import lifecycle
from cradle.accounts.models import User
from cradle.audit import chain
from cradle.audit.guard import maintenance
from cradle.audit.models import ChainHead, Event
from cradle.media.store import MasterKey
from cradle.retention import service
from cradle.unit.models import Admission
from cradle.viewing import storage
from cradle.viewing.models import Clip, LiveSegment
from tests.test_attack_audit_rewrite import cradle_audit_verify
from tests.test_viewing import SEGMENTS, stored

EMAIL = "dad.li@example.com"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_full_backup_and_restore_round_trip_keeps_destroyed_keys_destroyed(world, fresh_storage, capsys):
    a, b = world.families["a"], world.families["b"]
    stored(a)
    stored(b)
    a.parent.email = EMAIL
    a.parent.save()
    backup = fresh_storage / "cradle.backup"
    printed = run("backup", str(backup))
    blob = backup.read_bytes()
    # Encrypted: no segment, no name, no address, no username readable in the file.
    payload = f"ref:{a.bed.camera.pk}:{SEGMENTS}".encode()
    for secret in (payload, EMAIL.encode(), b"parent_a", b"Neonatal ICU", a.admission.media_id.encode()):
        assert secret not in blob

    # After the backup, family b withdraws everything: its key is destroyed and goes into the ledger.
    lifecycle.withdraw_everything(Admission.objects.get(pk=b.admission.pk))

    # A new machine: empty storage, the same master key, secret key and ledger; the database wiped.
    settings.MEDIA_DIR = fresh_storage / "new-media"
    storage.forget()
    with pytest.raises(CommandError, match="already holds data"):
        run("restore", str(backup))
    restored = run("restore", str(backup), "--replace")
    with capsys.disabled():
        print(f"\n$ cradle backup OUT\n{printed}$ cradle restore IN --replace\n{restored}")
    assert "destroyed keys kept destroyed: 1." in restored

    # Family a is back whole: accounts, sealed contact, clips, and every segment decrypts to what was stored.
    assert User.objects.get(username="parent_a").email == EMAIL
    assert Clip.objects.filter(admission_id=a.admission.pk).exists()
    store = storage.segment_store()
    camera = str(a.bed.camera.pk)
    assert store.get(a.admission.media_id, camera, SEGMENTS, "B") == f"B:{camera}:{SEGMENTS}".encode()
    assert len(store.segments(a.admission.media_id, camera)) == 3 * (SEGMENTS + 1)
    # Family b's key did not come back, nor its media, nor its clips.
    restored_b = Admission.objects.get(pk=b.admission.pk)
    assert restored_b.shredded_at is not None
    assert not store.has_key(b.admission.media_id) and not store.segments(b.admission.media_id, str(b.bed.camera.pk))
    assert not LiveSegment.objects.filter(admission=restored_b).exists()
    assert "violations: 0" in run("retention", "verify")
    # The audit chain came back intact, and tells of the restore.
    count, broken = chain.verify()
    assert broken is None and count > 0
    # Everybody signs in again after a restore.
    assert world.client("parent_a").get(f"/babies/{a.admission.pk}/").status_code == 200


def test_a_damaged_or_foreign_backup_is_refused_with_one_sentence(world, fresh_storage, settings):
    stored(world.families["a"])
    backup = fresh_storage / "cradle.backup"
    run("backup", str(backup))
    blob = backup.read_bytes()
    cases = {
        "altered": blob[:200] + bytes([blob[200] ^ 1]) + blob[201:],
        "cut": blob[: len(blob) - 40],
        "not": b"PK\x03\x04 a zip file",
    }
    messages = {"altered": "cannot be decrypted", "cut": "incomplete", "not": "not a Cradle backup"}
    for name, data in cases.items():
        path = fresh_storage / name
        path.write_bytes(data)
        with pytest.raises(CommandError, match=messages[name]):
            run("restore", str(path), "--replace")
    with pytest.raises(CommandError, match="does not exist"):
        run("restore", str(fresh_storage / "absent"))
    with pytest.raises(CommandError, match="does not exist; create it first"):
        run("backup", str(fresh_storage / "no-such-folder" / "b"))
    # Another installation's master key cannot open it.
    settings.MASTER_KEY_FILE = fresh_storage / "other.key"
    settings.MEDIA_DIR = fresh_storage / "other-media"
    MasterKey.create(settings.MASTER_KEY_FILE)
    storage.forget()
    with pytest.raises(CommandError, match="another master key"):
        run("restore", str(backup), "--replace")
    # Nothing was changed by any refused restore.
    assert Admission.objects.filter(pk=world.families["a"].admission.pk).exists()


def _events(count: int, first_second: int = 0) -> None:
    """Audit events whose times have microseconds, as every real event's have."""
    start = (timezone.now() - timedelta(hours=1)).replace(microsecond=654_321)
    for i in range(count):
        chain.append(
            at=start + timedelta(seconds=first_second + i),
            actor_id=i,
            actor_name=f"Viewer {i}",
            action="live.segment",
            unit_id=1,
            admission_id=1,
            ip="192.0.2.7",
            session="s",
            outcome="ok",
            detail={"segment": i},
        )


@pytest.mark.django_db(transaction=True)
def test_a_restored_instance_passes_cradle_audit_verify(world, fresh_storage):
    _events(6)
    held = Event.objects.count()  # the ward's creation events and these six
    backup = fresh_storage / "cradle.backup"
    run("backup", str(backup))
    _events(3, first_second=10)  # the log and its anchor go on past the backup
    before = Event.objects.order_by("-seq").first().seq
    settings.MEDIA_DIR = fresh_storage / "new-media"
    storage.forget()
    run("restore", str(backup), "--replace")
    # The events the backup holds, and the record of the restore.
    assert cradle_audit_verify(fresh_storage) == (0, f"Audit chain intact: {held + 1} events verified.")
    # Times came back to the microsecond, and the restore is on record with where the anchor stood before it.
    assert {e.at.microsecond for e in Event.objects.filter(action="live.segment")} == {654_321}
    restored = Event.objects.get(action="backup.restored")
    assert restored.detail["anchor_before"] == before


@pytest.mark.django_db(transaction=True)
def test_a_log_cut_before_the_backup_is_still_found_after_the_restore(world, fresh_storage):
    base = Event.objects.count()  # the ward's creation events
    _events(6)
    cut = base + 4
    with connection.cursor() as cursor:  # someone with database access cuts the last two events and moves the head
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM audit_event WHERE seq > %s", [cut])
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            with maintenance():
                cursor.execute("DELETE FROM audit_event WHERE seq > %s", [cut])
    kept = Event.objects.get(seq=cut)
    ChainHead.objects.filter(pk=1).update(seq=cut, hash=kept.hash)
    backup = fresh_storage / "cradle.backup"
    run("backup", str(backup))
    settings.MEDIA_DIR = fresh_storage / "new-media"
    storage.forget()
    run("restore", str(backup), "--replace")
    # Restored: the events up to the cut and the record of the restore; the backup's anchor had seen the last one.
    assert cradle_audit_verify(fresh_storage) == (
        1,
        f"CommandError: Audit chain broken at event {base + 6}: the log ends at event {cut + 1} although the anchor "
        f"beside the master key recorded event {base + 6} (cut off) ({cut + 1} events before it are intact).",
    )


def test_restoring_an_older_backup_destroys_the_keys_and_media_of_admissions_it_does_not_know(world, fresh_storage):
    a = world.families["a"]
    stored(a)
    backup = fresh_storage / "cradle.backup"
    run("backup", str(backup))
    # After the backup a baby is admitted and filmed (family b's admission under a new media id stands for it): the
    # backup's database knows nothing of that media id.
    later = world.families["b"]
    Admission.objects.filter(pk=later.admission.pk).update(media_id="admitted-after-the-backup")
    later.admission.refresh_from_db()
    stored(later)
    store = storage.segment_store()
    assert store.has_key("admitted-after-the-backup")
    restored = run("restore", str(backup), "--replace")
    assert "admissions unknown to the restored database destroyed: 1;" in restored
    storage.forget()
    store = storage.segment_store()
    assert not store.has_key("admitted-after-the-backup")
    assert not store.segments("admitted-after-the-backup", str(later.bed.camera.pk))
    assert "admitted-after-the-backup" in service.ledger().media_ids()
    report = run("retention", "verify")
    assert "violations: 0" in report, report
    # The admission the backup knows is untouched.
    camera = str(a.bed.camera.pk)
    assert store.get(a.admission.media_id, camera, SEGMENTS, "A") == f"A:{camera}:{SEGMENTS}".encode()
    event = Event.objects.filter(action="backup.restored").last()
    assert event.detail["unknown_destroyed"] == ["admitted-after-the-backup"]


def test_a_backup_taken_while_the_live_buffer_expires_holds_what_its_database_names(world, fresh_storage, monkeypatch):
    """The race of a backup with the worker's expiry of the live buffer, made to happen every time: the expiry runs
    right after the first object is copied, so the objects the backup listed go away before they are copied."""
    a = world.families["a"]
    stored(a)
    camera = str(a.bed.camera.pk)
    store = storage.segment_store()
    copy = store.media_backend.get
    expired = []

    def copy_then_expire(name: str) -> bytes:
        data = copy(name)
        if not expired:
            later = timezone.now() + timedelta(seconds=settings.CRADLE.live_buffer_seconds + 1)
            expired.append(service.expire_live_buffer(later))  # what the worker's housekeeping does
        return data

    monkeypatch.setattr(store.media_backend, "get", copy_then_expire)
    backup = fresh_storage / "cradle.backup"
    run("backup", str(backup))  # failed with "…/000000000001.A is not stored."
    monkeypatch.undo()
    assert expired == [SEGMENTS]
    restored = run("restore", str(backup), "--replace")
    assert "Restored" in restored
    # Only the clip's segment is left, in the database and in the store alike; nothing names a missing object.
    rows = list(LiveSegment.objects.filter(admission_id=a.admission.pk).values_list("index", flat=True))
    assert rows == [0]
    storage.forget()
    store = storage.segment_store()
    assert sorted({index for index, _ in store.segments(a.admission.media_id, camera)}) == [0]
    assert store.get(a.admission.media_id, camera, 0, "A") == f"A:{camera}:0".encode()
    assert "violations: 0" in run("retention", "verify")
    assert chain.verify()[1] is None
