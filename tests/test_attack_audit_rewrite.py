"""Rewriting the audit log as someone who can write the database, and `cradle audit verify` catching every variant.

The attacker gets round the append-only guard (drops the triggers, or uses the guard's own sanctioned-wipe switch),
deletes or re-attributes one event, re-hashes everything after it (with plain SHA-256, or HMAC under a guessed key: the
algorithm is public, the master key is not) and moves the chain head row to match; or cuts the tail and moves the head
back; or deletes or alters the anchor beside the master key. Each case runs the real command in its own process and
reads its exit status and its one line.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import connection
from django.utils import timezone

from cradle.audit import chain
from cradle.audit.guard import maintenance
from cradle.audit.models import GENESIS, ChainHead, Event

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 8
# Another installation's master key, run through the published derivation: the best guess without the real key.
GUESSED_KEY = HKDF(hashes.SHA256(), 32, salt=None, info=b"cradle.audit-chain.v1").derive(os.urandom(32))

Link = Callable[[str, Event], str]


def plain_sha256(prev_hash: str, event: Event) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + chain.canonical(chain.event_fields(event))).hexdigest()


def guessed_key(prev_hash: str, event: Event) -> str:
    message = prev_hash.encode() + b"\n" + chain.canonical(chain.event_fields(event))
    return hmac.new(GUESSED_KEY, message, hashlib.sha256).hexdigest()


LINKS = {"plain SHA-256": plain_sha256, "HMAC under a guessed key": guessed_key}


@pytest.fixture
def log(transactional_db) -> list[Event]:
    """Eight events, each committed (so each is checkpointed in the anchor, as in a running installation)."""
    start = timezone.now() - timedelta(minutes=10)
    for i in range(EVENTS):
        chain.append(
            at=start + timedelta(seconds=i, microseconds=123_457),
            actor_id=100 + i,
            actor_name=f"Relative {i}",
            action="live.segment",
            unit_id=1,
            admission_id=7,
            ip="192.0.2.30",
            session=f"session{i}",
            outcome="ok",
            detail={"camera": 3, "segment": i},
        )
    return list(Event.objects.order_by("seq"))


def cradle_audit_verify(tmp_path: Path) -> tuple[int, str]:
    """`cradle audit verify` as an operator runs it, against this test's database, master key and anchor."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL"))}
    env |= {
        "DATABASE_URL": url,
        "CRADLE_DATA_DIR": str(tmp_path),
        "CRADLE_MASTER_KEY_FILE": str(settings.MASTER_KEY_FILE),
        "CRADLE_AUDIT_ANCHOR_FILE": str(getattr(settings, "AUDIT_ANCHOR_FILE", tmp_path / "audit.anchor")),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cradle.cli", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done.returncode, lines[0]


GUARDS = {
    "sqlite": ["triggers dropped", "maintenance switch"],
    "postgresql": ["triggers disabled", "replication role"],
}


@contextmanager
def guard_lifted(how: str) -> Iterator[None]:
    """The append-only guard got round, as a database administrator can; put back afterwards for the next tests."""
    migration = importlib.import_module("cradle.audit.migrations.0002_append_only")
    with connection.cursor() as cursor:
        if how == "triggers dropped":
            cursor.execute("DROP TRIGGER audit_event_no_update")
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        elif how == "triggers disabled":
            cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        elif how == "replication role":
            cursor.execute("SET session_replication_role = replica")
        try:
            if how == "maintenance switch":
                with maintenance():  # lets deletes through; inserts were never refused
                    yield
            else:
                yield
        finally:
            if how == "triggers dropped":
                for statement in migration.SQLITE:
                    cursor.execute(statement)
            elif how == "triggers disabled":
                cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
            elif how == "replication role":
                cursor.execute("SET session_replication_role = DEFAULT")


def rewrite(start: int, events: list[Event], link: Link) -> None:
    """Replaces the log from event `start` on by `events`, renumbered and chained with `link`, and moves the head."""
    prev = Event.objects.get(seq=start - 1).hash if start > 1 else GENESIS
    Event.objects.filter(seq__gte=start).delete()
    forged = []
    for seq, original in enumerate(events, start):
        event = Event(**{f: getattr(original, f) for f in chain.event_fields(original)} | {"seq": seq}, prev_hash=prev)
        event.hash = prev = link(prev, event)
        forged.append(event)
    Event.objects.bulk_create(forged)
    ChainHead.objects.filter(pk=1).update(seq=start + len(events) - 1, hash=prev)


def put_back(log: list[Event]) -> None:
    """The original log again (each way round the guard is tried on the same log)."""
    Event.objects.all().delete()
    Event.objects.bulk_create(
        [Event(**{f: getattr(e, f) for f in chain.event_fields(e)}, prev_hash=e.prev_hash, hash=e.hash) for e in log]
    )
    ChainHead.objects.filter(pk=1).update(seq=log[-1].seq, hash=log[-1].hash)


def guards() -> list[str]:
    return GUARDS[connection.vendor]


def test_the_untouched_log_verifies(log, tmp_path):
    assert cradle_audit_verify(tmp_path) == (0, f"Audit chain intact: {EVENTS} events verified.")


def test_deleting_one_event_and_rehashing_the_rest_is_caught(log, tmp_path):
    for how in guards():
        for link in LINKS.values():
            with guard_lifted(how):
                rewrite(4, log[4:], link)  # event 4 gone, 5.. renumbered 4.., the head row moved to 7
            assert ChainHead.objects.get(pk=1).seq == EVENTS - 1
            assert cradle_audit_verify(tmp_path) == (
                1,
                "CommandError: Audit chain broken at event 4: its content does not match its hash (edited) "
                "(3 events before it are intact).",
            ), (how, link.__name__)
            with guard_lifted(how):
                put_back(log)
            assert chain.verify() == (EVENTS, None)


def test_reattributing_one_event_and_rehashing_the_rest_is_caught(log, tmp_path):
    original = list(log)
    log[5] = Event(**{f: getattr(log[5], f) for f in chain.event_fields(log[5])})
    log[5].actor_id, log[5].actor_name = 999, "Someone Else"
    for link in LINKS.values():
        with guard_lifted(guards()[0]):
            rewrite(6, log[5:], link)
        assert cradle_audit_verify(tmp_path) == (
            1,
            "CommandError: Audit chain broken at event 6: its content does not match its hash (edited) "
            "(5 events before it are intact).",
        ), link.__name__
        with guard_lifted(guards()[0]):
            put_back(original)


def test_rehashing_the_whole_log_from_its_first_event_is_caught(log, tmp_path):
    original = list(log)
    log[0] = Event(**{f: getattr(log[0], f) for f in chain.event_fields(log[0])})
    log[0].actor_name = "Nobody"
    for link in LINKS.values():
        with guard_lifted(guards()[-1]):
            rewrite(1, log[:2] + log[3:], link)  # the first event re-attributed and the third deleted
        assert cradle_audit_verify(tmp_path) == (
            1,
            "CommandError: Audit chain broken at event 1: its content does not match its hash (edited) "
            "(0 events before it are intact).",
        ), link.__name__
        with guard_lifted(guards()[-1]):
            put_back(original)


def test_cutting_the_tail_and_moving_the_head_back_is_caught(log, tmp_path):
    for how in guards():
        with guard_lifted(how):
            rewrite(7, [], plain_sha256)  # events 7 and 8 gone, the head row says 6
        assert ChainHead.objects.get(pk=1).seq == 6
        assert cradle_audit_verify(tmp_path) == (
            1,
            "CommandError: Audit chain broken at event 7: the log ends at event 6 although the anchor beside the "
            "master key recorded event 8 (cut off) (6 events before it are intact).",
        ), how
        with guard_lifted(how):
            put_back(log)
        assert chain.verify() == (EVENTS, None)


def test_cutting_the_tail_and_deleting_the_anchor_is_caught(log, tmp_path):
    with guard_lifted(guards()[0]):
        rewrite(7, [], plain_sha256)
    anchor = Path(settings.AUDIT_ANCHOR_FILE)
    anchor.unlink(missing_ok=True)
    assert cradle_audit_verify(tmp_path) == (
        1,
        f"CommandError: The audit anchor {anchor} is missing although the log holds events up to event 6; put the "
        "original file back beside the master key, or run `cradle audit anchor` to anchor the log as it is now.",
    )


def test_an_altered_anchor_is_caught(log, tmp_path):
    anchor = Path(settings.AUDIT_ANCHOR_FILE)
    lines = anchor.read_text().splitlines() if anchor.exists() else ["cradle-audit-anchor-v1", "8\tx\tx\t1\tx"]
    # The newest checkpoint moved back to event 6, its MAC kept: what hiding a cut-off tail of two events would need.
    fields = lines[-1].split("\t")
    fields[:2] = ["6", log[5].hash]
    anchor.write_text("\n".join([*lines[:-1], "\t".join(fields)]) + "\n")
    with guard_lifted(guards()[0]):
        rewrite(7, [], plain_sha256)
    assert cradle_audit_verify(tmp_path) == (
        1,
        f"CommandError: The audit anchor {anchor} was altered at line {len(lines)}; put the original file back.",
    )


def test_an_anchor_forged_under_a_guessed_key_is_caught(log, tmp_path):
    with guard_lifted(guards()[0]):
        rewrite(7, [], plain_sha256)
    content = f"6\t{log[5].hash}\t2030-01-01T00:00:00Z\t1"
    mac = hmac.new(GUESSED_KEY, f"{'0' * 64}\n{content}".encode(), hashlib.sha256).hexdigest()
    anchor = Path(settings.AUDIT_ANCHOR_FILE)
    anchor.write_text(f"cradle-audit-anchor-v1\n{content}\t{mac}\n")
    assert cradle_audit_verify(tmp_path) == (
        1,
        f"CommandError: The audit anchor {anchor} was altered at line 2; put the original file back.",
    )


def test_an_emptied_anchor_is_caught(log, tmp_path):
    anchor = Path(settings.AUDIT_ANCHOR_FILE)
    anchor.write_text("cradle-audit-anchor-v1\n")
    assert cradle_audit_verify(tmp_path) == (
        1,
        f"CommandError: The audit anchor {anchor} holds no checkpoint (emptied); put the original file back.",
    )


def test_a_time_that_is_no_time_is_named_in_one_line(log, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps only valid times in a timestamp column")
    found = {
        # Looks like a time but is none: the database layer raised, and `verify` printed a traceback.
        "2026-13-45 99:61:00": "its time cannot be read ('2026-13-45 99:61:00'); it was edited",
        # Read back as no time at all.
        "not a time": "its content does not match its hash (edited)",
    }
    for malformed, problem in found.items():
        with guard_lifted("triggers dropped"), connection.cursor() as cursor:
            cursor.execute("UPDATE audit_event SET at = %s WHERE seq = 3", [malformed])
        status, line = cradle_audit_verify(tmp_path)
        assert status != 0
        assert line.endswith(f"Audit chain broken at event 3: {problem} (2 events before it are intact)."), line
