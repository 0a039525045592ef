"""Fault: media served while the audit could not be written.

Seen before: with the database read-only for 20 s, 20 playlists and 120 segments were served and none audited (the
batch was emptied before its write failed); on a full disk 332 views were served and none audited. Here every media
answer (playlists, segments, on the full path and the fast path) is counted against the audit events written for it,
through a read-only database, a full spool disk, and both at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.audit import batch, chain, spool
from cradle.audit.models import Event
from tests.faults import SmallDisk, can_mount, read_only_database
from tests.test_faults_web import CRADLE, Site, _env, _modes, _until, small_data  # noqa: F401 - fixture
from tests.test_viewing import playlist_urls, stored

MEDIA = ("live.playlist", "live.segment", "clip.playlist", "clip.segment", "live.key", "clip.key", "baby.status")


def audited() -> int:
    return Event.objects.filter(action__in=MEDIA, outcome="ok").count()


class Answers:
    """Counts the media answers given (200) and checks that every other answer is a 503 with nothing in it."""

    def __init__(self) -> None:
        self.given = 0
        self.refused = 0

    def get(self, client, url: str) -> int:
        client.raise_request_exception = False  # answered as a server answers it
        response = client.get(url)
        if response.status_code != 200:
            assert response["Retry-After"] and response.content == b"Unavailable"
        return self.count(response.status_code)

    def count(self, status: int) -> int:
        if status == 200:
            self.given += 1
        else:
            assert status == 503, status
            self.refused += 1
        return status


@pytest.fixture
def batching(settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=60)  # merged by the test, not the thread
    batch.flush()
    yield
    batch.flush()


@pytest.fixture
def spool_disk(tmp_path, settings):
    if not can_mount():
        pytest.skip("mounting a small filesystem needs root")
    disk = SmallDisk(tmp_path / "spool", 1)
    settings.AUDIT_SPOOL_FILE = disk.path / "audit.spool"
    try:
        yield disk
    finally:
        spool.close()
        disk.unmount()


@dataclass
class Watching:
    fam: Any
    parent: Client
    relative: Client
    playlist: str
    urls: list[str]


def _watch(world, answers: Answers) -> Watching:
    """Family A's parent watches (full path, then fast path); the relative's client is signed in but has fetched
    nothing yet. Everything so far is merged."""
    fam = world.families["a"]
    stored(fam)
    parent = world.client("parent_a")
    playlist = reverse("live_playlist", args=[fam.admission.pk])
    assert answers.get(parent, playlist) == 200
    urls = playlist_urls(parent, fam)
    answers.given += 1
    for url in urls:
        assert answers.get(parent, url) == 200
    batch.flush()
    assert audited() == answers.given
    return Watching(fam, parent, world.client("relative_a"), playlist, urls)


@pytest.mark.django_db(transaction=True)
def test_views_through_a_read_only_database_are_spooled_then_merged_in_order(world, batching):
    answers = Answers()
    w = _watch(world, answers)
    before = audited()
    with read_only_database():
        for _ in range(3):
            answers.get(w.parent, w.playlist)  # the fast path
            for url in w.urls:
                answers.get(w.parent, url)
        answers.get(w.relative, w.playlist)  # the full path
        for url in playlist_urls(w.relative, w.fam):
            # The relative's variants of these segments cannot be recorded now: refused, never served unaudited.
            answers.get(w.relative, url)
        answers.given += 1  # playlist_urls asserted a 200
        assert audited() == before  # nothing reached the database...
        assert spool.pending()  # ...and everything answered is in the spool
        served_until = timezone.now()
    assert answers.given - before == 3 * (1 + len(w.urls)) + 2
    print(f"read-only database: {answers.given - before} answered, {answers.refused} refused, 0 in the database")
    assert batch.flush() == answers.given - before
    assert audited() == answers.given
    assert not spool.pending()
    count, problem = chain.verify()
    assert problem is None and count == Event.objects.count()
    # Merged events keep the time of the fetch and the order of the fetches.
    times = list(Event.objects.order_by("seq").values_list("at", flat=True))
    assert times == sorted(times)
    merged = Event.objects.filter(action__in=MEDIA).order_by("-seq")[: answers.given - before]
    assert all(e.at <= served_until for e in merged)


@pytest.mark.django_db(transaction=True)
def test_without_batching_a_refused_write_goes_to_the_spool_and_the_next_write_merges_it_first(world):
    answers = Answers()
    w = _watch(world, answers)
    with read_only_database():
        for url in w.urls:
            assert answers.get(w.parent, url) == 200
        assert spool.pending()
    # The next audited answer merges what waited before writing its own event, so the chain keeps the fetches' order.
    assert answers.get(w.parent, w.urls[0]) == 200
    assert not spool.pending() and audited() == answers.given
    actions = list(Event.objects.order_by("seq").values_list("at", flat=True))
    assert actions == sorted(actions)
    assert chain.verify()[1] is None


@pytest.mark.django_db(transaction=True)
def test_a_full_spool_disk_sends_events_to_the_database_at_once(world, batching, spool_disk):
    answers = Answers()
    w = _watch(world, answers)
    spool_disk.fill()
    for _ in range(2):
        answers.get(w.parent, w.playlist)
        for url in w.urls:
            answers.get(w.parent, url)
    assert answers.refused == 0
    assert audited() == answers.given  # written at once, nothing waits
    spool_disk.free()
    assert chain.verify()[1] is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batched", [True, False])
def test_when_neither_the_database_nor_the_spool_takes_the_event_nothing_is_served(
    world, settings, spool_disk, batched
):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=60 if batched else 0)
    answers = Answers()
    w = _watch(world, answers)
    given = answers.given
    spool_disk.fill()
    with read_only_database():
        answers.get(w.parent, w.playlist)
        answers.get(w.relative, w.playlist)
        for url in w.urls:
            answers.get(w.parent, url)
    assert answers.given == given and answers.refused == 2 + len(w.urls)
    spool_disk.free()
    batch.flush()
    assert audited() == answers.given
    assert chain.verify()[1] is None


@pytest.mark.django_db(transaction=True)
def test_an_altered_spool_record_is_kept_aside_not_merged(world, batching, settings):
    answers = Answers()
    w = _watch(world, answers)
    with read_only_database():
        for url in w.urls[:2]:
            answers.get(w.parent, url)
    target = spool.path()
    data = target.read_bytes()
    target.write_bytes(data.replace(b'"segment":', b'"segment":1', 1))
    assert batch.flush() == 1
    rejected = target.with_name(target.name + ".rejected")
    assert rejected.exists() and b'"segment":1' in rejected.read_bytes()
    assert chain.verify()[1] is None


def _audited_in(database: Path, session: str) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        marks = ",".join("?" * len(MEDIA))
        query = f"SELECT COUNT(*) FROM audit_event WHERE outcome = 'ok' AND session = ? AND action IN ({marks})"
        return db.execute(query, [session, *MEDIA]).fetchone()[0]


@pytest.mark.nodb
def test_a_served_site_on_a_full_disk_audits_every_view_it_answers(small_data, tmp_path):  # noqa: F811
    """A real `cradle serve` whose database is on a disk that fills up: views go on, each spooled on another disk
    before its answer; once that disk is full too, a view is answered only when its event still got into the
    database; after the fix the spool is merged, every answer is audited and the chain verifies."""
    disk, data = small_data
    spool_disk = SmallDisk(tmp_path / "spool", 1)
    env = _env(data, CRADLE_AUDIT_SPOOL_FILE=str(spool_disk.path / "audit.spool"))
    try:
        made = subprocess.run([sys.executable, "-m", "tests.fault_viewer", "8"], env=env, capture_output=True,
                              text=True, timeout=120, check=True)  # fmt: skip
        viewer = json.loads(made.stdout)
        site = Site(env, tmp_path / "serve.log")
        cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={viewer['cookie']}"}
        answers = Answers()

        def watch() -> None:
            for _ in range(2):
                status, body = _get(site, f"/babies/{viewer['admission']}/live.m3u8", cookie)
                answers.count(status)
                for url in [line for line in body.splitlines() if line.startswith("/v/")]:
                    answers.count(_get(site, url, cookie)[0])

        try:
            watch()
            assert answers.refused == 0 and answers.given == 2 * 7
            disk.fill()
            watch()  # the database cannot take a write now; the spool can
            full_disk = answers.given
            assert answers.refused == 0 and full_disk == 4 * 7
            assert _audited_in(data / "cradle.sqlite3", viewer["session"]) < full_disk
            spool_disk.fill()
            # Now a view is answered only if the full database still takes its event (into pages it has free),
            # and refused (503) otherwise: how many of each depends on SQLite's free pages, not on Cradle.
            watch()
            spool_disk.free()
            disk.free()
            assert _until(lambda: _audited_in(data / "cradle.sqlite3", viewer["session"]) == answers.given, 20)
        finally:
            log = site.stop()
        verify = subprocess.run([str(CRADLE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stderr
        assert _audited_in(data / "cradle.sqlite3", viewer["session"]) == answers.given
        with contextlib.closing(sqlite3.connect(data / "cradle.sqlite3")) as db:
            times = [row[0] for row in db.execute("SELECT at FROM audit_event ORDER BY seq")]
        assert times == sorted(times)  # merged events kept the time and the order of their fetches
        print(f"full disk: {answers.given} views answered, {answers.refused} refused, all answered audited")
    finally:
        spool_disk.unmount()
    assert "Traceback" not in log, log


def _get(site, path: str, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(site.base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.django_db(transaction=True)
def test_a_merge_that_stopped_after_its_commit_appends_nothing_twice(world, batching):
    answers = Answers()
    w = _watch(world, answers)
    with read_only_database():
        for url in w.urls:
            answers.get(w.parent, url)
    held = spool.path().read_bytes()
    assert batch.flush() == len(w.urls)
    # As if the merging process died after its commit and before it cut the spool: the same records are there again.
    spool.path().write_bytes(held)
    assert batch.flush() == 0
    assert not spool.pending()
    assert audited() == answers.given
    assert chain.verify()[1] is None



@pytest.mark.nodb
def test_a_site_started_on_a_read_only_database_spools_every_view_and_the_next_start_merges_them(
    small_data,  # noqa: F811
    tmp_path,
):
    """A real `cradle serve`, bound by file modes as Cradle's service user is, started while the database file is
    read-only: every view it answers is spooled beside the database (the default place); the next start, on a writable
    database, merges them."""
    _disk, data = small_data
    env = _env(data)
    made = subprocess.run([sys.executable, "-m", "tests.fault_viewer", "6"], env=env, capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    viewer = json.loads(made.stdout)
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={viewer['cookie']}"}
    answers = Answers()
    database = data / "cradle.sqlite3"

    def watch(site) -> None:
        for _ in range(3):
            status, body = _get(site, f"/babies/{viewer['admission']}/live.m3u8", cookie)
            answers.count(status)
            for url in [line for line in body.splitlines() if line.startswith("/v/")]:
                answers.count(_get(site, url, cookie)[0])

    logs = []
    site = Site(env, tmp_path / "serve-1.log")
    try:
        watch(site)  # the account's variants are recorded: what a read-only database cannot do
    finally:
        logs.append(site.stop())
    before = answers.given
    assert _until(lambda: _audited_in(database, viewer["session"]) == before)
    _modes(data, writable=False)
    site = Site(env, tmp_path / "serve-2.log")
    try:
        watch(site)
    finally:
        logs.append(site.stop())
    _modes(data, writable=True)
    assert answers.refused == 0 and answers.given == 2 * before
    assert _audited_in(database, viewer["session"]) == before  # the rest waits in the spool
    site = Site(env, tmp_path / "serve-3.log")
    try:
        assert _until(lambda: _audited_in(database, viewer["session"]) == answers.given, 20)
    finally:
        logs.append(site.stop())
    verify = subprocess.run([str(CRADLE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    print(f"read-only database (served): {answers.given - before} answered, {answers.refused} refused, all audited")
    for log in logs:
        assert "Traceback" not in log, log
