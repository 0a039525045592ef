"""The audit anchor beside the master key: written after every commit and only then, by many writers at once, kept
small without losing evidence, robust to a torn write; and the way an older log or a lost anchor gets anchored."""

from __future__ import annotations

import io
import socket
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.utils import timezone

from cradle.audit import anchor, chain
from cradle.audit.models import GENESIS, ChainHead, Event
from tests.test_attack_audit_rewrite import cradle_audit_verify, guard_lifted, guards, plain_sha256


def append(n: int = 1, **extra) -> list[Event]:
    return [
        chain.append(
            actor_id=i,
            actor_name="Viewer",
            action="live.segment",
            unit_id=1,
            admission_id=1,
            ip=None,
            session="s",
            outcome="ok",
            detail={"i": i},
            **extra,
        )
        for i in range(n)
    ]


def newest() -> anchor.Checkpoint:
    return anchor.current().checkpoints()[-1]


@pytest.mark.django_db(transaction=True)
def test_each_commit_is_checkpointed_and_a_rolled_back_append_is_not():
    append(3)
    head = Event.objects.get(seq=3)
    assert (newest().seq, newest().hash) == (3, head.hash)
    with pytest.raises(RuntimeError), transaction.atomic():
        append(1)
        raise RuntimeError("the request failed after auditing")
    assert newest().seq == 3  # the anchor never runs ahead of what the database committed
    assert chain.verify() == (3, None)
    path = Path(settings.AUDIT_ANCHOR_FILE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_anchor_on_the_head_and_the_file_small(monkeypatch):
    monkeypatch.setattr(anchor, "COMPACT_BYTES", 1024)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                append(1)
                chain.append_many([{"action": "live.segment", "detail": {"batch": True}}] * 3)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    head = ChainHead.objects.get(pk=1)
    assert head.seq == 4 * 10 * 4
    assert (newest().seq, newest().hash) == (head.seq, head.hash)
    assert Path(settings.AUDIT_ANCHOR_FILE).stat().st_size < 1024 + 200
    assert chain.verify() == (head.seq, None)


@pytest.mark.django_db(transaction=True)
def test_a_tail_cut_and_written_over_stays_visible_after_the_anchor_is_compacted(monkeypatch):
    monkeypatch.setattr(anchor, "COMPACT_BYTES", 2048)  # about twelve checkpoints
    append(6)
    with guard_lifted(guards()[0]):
        Event.objects.filter(seq__gt=3).delete()
    ChainHead.objects.filter(pk=1).update(seq=3, hash=Event.objects.get(seq=3).hash)
    append(30)  # new events take the numbers 4, 5, 6 again, and many more: the anchor is compacted several times
    count, broken = chain.verify()
    assert (count, broken.seq) == (3, 4) and "not the event the anchor recorded" in broken.problem
    kept = [c.seq for c in anchor.current().checkpoints()]
    assert kept[:3] == [4, 5, 6] and kept[-1] == 33 and len(kept) < 12


@pytest.mark.django_db(transaction=True)
def test_a_line_torn_by_a_crash_is_ignored_and_cut_off_by_the_next_append():
    append(2)
    path = Path(settings.AUDIT_ANCHOR_FILE)
    with path.open("a") as f:
        f.write("3\t" + "f" * 30)  # a write cut short
    assert chain.verify() == (2, None)
    append(1)
    assert path.read_text().endswith("\n") and newest().seq == 3
    assert chain.verify() == (3, None)


@pytest.mark.django_db(transaction=True)
def test_the_first_event_creates_the_anchor_and_a_later_one_never_recreates_it(caplog):
    path = Path(settings.AUDIT_ANCHOR_FILE)
    path.unlink()
    append(1)  # a new installation's first event
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and newest().seq == 1
    path.unlink()
    append(3)
    assert not path.exists()
    # One line in the log for the failing state, not one per event.
    assert [r.getMessage() for r in caplog.records if r.name == "cradle.audit.anchor"] == [
        f"could not checkpoint the audit log: The audit anchor {path} is missing."
    ]
    _, problem = chain.verify()
    assert str(problem).startswith(f"The audit anchor {path} is missing although the log holds events up to event 4")


def _older_log(count: int) -> list[Event]:
    """A log as Cradle wrote it before links were keyed: plain SHA-256 links and no anchor."""
    start = timezone.now() - timedelta(days=400)
    prev, events = GENESIS, []
    for seq in range(1, count + 1):
        event = Event(seq=seq, at=start + timedelta(hours=seq), action="baby.view", actor_id=seq, prev_hash=prev)
        event.hash = prev = plain_sha256(prev, event)
        events.append(event)
    Event.objects.bulk_create(events)
    ChainHead.objects.update_or_create(pk=1, defaults={"seq": count, "hash": prev})
    Path(settings.AUDIT_ANCHOR_FILE).unlink()
    return events


def test_migrate_keys_an_older_log_in_place_and_it_then_resists_a_plain_rewrite(db):
    old = _older_log(5)
    out = io.StringIO()
    call_command("migrate", stdout=out)
    assert (
        "The audit log's 5 older events keep their links; from event 6 on links are keyed with the master key, and "
        f"the log is anchored in {settings.AUDIT_ANCHOR_FILE}." in out.getvalue()
    )
    assert list(Event.objects.filter(seq__lte=5).values_list("hash", flat=True)) == [e.hash for e in old]
    keyed = Event.objects.get(seq=6)
    assert keyed.action == "audit.keyed" and keyed.detail == {"anchored_event": 5, "plain_events": 5}
    assert chain.verify() == (6, None)
    # Rewriting an older event and re-hashing the plain part after it is found: the last plain event is the one the
    # anchor recorded, and the first keyed link covers its hash.
    with guard_lifted(guards()[0]), connection.cursor() as cursor:
        prev = old[0].hash
        for event in old[1:]:
            if event.seq == 2:
                event.actor_id = 99
            event.prev_hash = prev
            event.hash = prev = plain_sha256(prev, event)
            cursor.execute(
                "UPDATE audit_event SET actor_id = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [event.actor_id, event.prev_hash, event.hash, event.seq],
            )
    count, broken = chain.verify()
    assert (count, broken.seq) == (4, 5) and "not the event the anchor recorded" in broken.problem
    assert Event.objects.get(seq=6).prev_hash != Event.objects.get(seq=5).hash
    # Migrating again changes nothing: the anchor is there.
    out = io.StringIO()
    call_command("migrate", stdout=out)
    assert "audit log" not in out.getvalue() and "audit anchor" not in out.getvalue()
    assert Event.objects.filter(action="audit.keyed").count() == 1


def test_a_break_in_an_older_log_is_still_reported_after_keying(db):
    _older_log(4)
    with guard_lifted(guards()[0]), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_event SET actor_id = 77 WHERE seq = 2")
    call_command("migrate", stdout=io.StringIO())
    count, broken = chain.verify()
    assert (count, broken.seq) == (1, 2) and "edited" in broken.problem


def test_a_lost_anchor_is_not_replaced_by_migrate_but_by_cradle_audit_anchor_on_record(db):
    append(4)
    path = Path(settings.AUDIT_ANCHOR_FILE)
    with pytest.raises(CommandError, match="is in place and intact; nothing was changed"):
        call_command("audit", "anchor", stdout=io.StringIO())
    path.unlink()
    out = io.StringIO()
    call_command("migrate", stdout=out)
    assert f"The audit anchor {path} is missing although the log holds events" in out.getvalue()
    assert not path.exists()
    out = io.StringIO()
    call_command("audit", "anchor", stdout=out)
    assert out.getvalue().startswith("Audit log anchored at event 4; links are keyed from event 1 on.")
    anchored = Event.objects.get(action="audit.anchored")
    assert anchored.seq == 5 and anchored.detail == {"anchored_event": 4, "plain_events": 0}
    assert chain.verify() == (5, None)


def test_verify_without_the_master_key_says_so_in_one_sentence(db, settings, tmp_path):
    settings.MASTER_KEY_FILE = tmp_path / "absent.key"
    with pytest.raises(CommandError, match=r"^The master key file .* does not exist; create it with `cradle init`"):
        call_command("audit", "verify", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_checkpoints_can_go_to_syslog_as_well(settings, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        settings.AUDIT_SYSLOG = f"127.0.0.1:{receiver.getsockname()[1]}"
        (event,) = append(1)
        message = receiver.recv(4096).decode()
    assert f"cradle-audit: checkpoint 1 {event.hash} " in message
    # The copy carries the checkpoint's HMAC: it can be checked against the anchor key later.
    assert message.rstrip("\x00").split(" ")[-1] == Path(settings.AUDIT_ANCHOR_FILE).read_text().split("\t")[-1].strip()
    assert cradle_audit_verify(tmp_path) == (0, "Audit chain intact: 1 events verified.")


@pytest.mark.django_db(transaction=True)
def test_an_anchor_held_locked_skips_a_checkpoint_instead_of_holding_up_the_request(monkeypatch, caplog):
    import fcntl

    monkeypatch.setattr(anchor, "LOCK_WAIT_SECONDS", 0.2)
    append(1)
    with open(settings.AUDIT_ANCHOR_FILE, "rb") as held:  # a process stopped while it held the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        append(2)
        fcntl.flock(held, fcntl.LOCK_UN)
    assert Event.objects.count() == 3 and newest().seq == 1
    assert any("stayed locked by another process" in r.getMessage() for r in caplog.records)
    append(1)  # the next checkpoint makes good the ones skipped
    assert newest().seq == 4 and chain.verify() == (4, None)
