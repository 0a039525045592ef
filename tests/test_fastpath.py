"""The fast path of segment fetches: it answers exactly as the full path does, only for what the full path granted,
and never after anything that takes the right away (cradle/viewing/fastpath.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cradle import lifecycle
from cradle.accounts import sessions, suspension
from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.retention import service
from cradle.unit.models import FamilyMembership, StaffMembership
from cradle.viewing import fastpath, grants
from cradle.viewing.models import Clip, Revocation
from tests.test_edge import edge_dir  # noqa: F401 - fixture
from tests.test_viewing import playlist_urls, stored


class Ways(list):
    def __init__(self) -> None:
        super().__init__()
        self.others: list[tuple[str, bool]] = []


@pytest.fixture
def answered(monkeypatch):
    """How each segment fetch was answered: True by the fast path, False by the full path (playlists and keys in
    `answered.others`)."""
    ways = Ways()
    original = fastpath.FastSegmentMiddleware.serve

    def spy(self, request, kind, kwargs):
        response = original(self, request, kind, kwargs)
        (ways if kind == "segment" else ways.others).append((kind, response is not None) if kind != "segment" else
                                                            response is not None)  # fmt: skip
        return response

    monkeypatch.setattr(fastpath.FastSegmentMiddleware, "serve", spy)
    return ways


def _comparable(response) -> dict:
    return {k: v for k, v in response.items() if k.lower() not in ("set-cookie", "date", "expires")}


def _fetch_fields(event: Event) -> tuple:
    return (event.actor_id, event.actor_name, event.action, event.unit_id, event.admission_id, event.ip, event.session,
            event.outcome, event.detail)  # fmt: skip


def parent_watching(world):
    """Family A's parent has fetched the playlist and one segment on the full path, which left a grant."""
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    urls = playlist_urls(client, fam)
    client.get(urls[0])
    return fam, client, urls


def test_after_the_playlist_a_parents_fetches_take_the_fast_path_and_answer_as_the_full_path(world, answered, settings):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=False)
    urls = playlist_urls(client, fam)
    full = client.get(urls[0])
    settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=True)
    client.get(urls[1])  # the full path: the fast path has no grant yet, and learns the headers
    assert answered == [False]
    urls = playlist_urls(client, fam)
    fast = client.get(urls[0])
    assert answered[-1] is True
    assert fast.status_code == full.status_code == 200
    assert fast.content == full.content and _comparable(fast) == _comparable(full)
    for url in urls[2:]:
        assert client.get(url).status_code == 200
    assert answered[-4:] == [True] * 4
    events = list(Event.objects.filter(action="live.segment", actor_id=fam.parent.pk).order_by("pk"))
    assert len(events) == 7
    assert _fetch_fields(events[0]) == _fetch_fields(events[2])  # the same segment, full path then fast path
    assert all(e.outcome == "ok" and e.session and e.ip == "127.0.0.1" for e in events)


def test_edge_mode_sends_the_same_internal_address_on_the_fast_path(world, answered, edge_dir):  # noqa: F811
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    urls = playlist_urls(client, fam)
    first = client.get(urls[0])  # full path (headers not learnt yet)
    second = client.get(urls[0])
    assert answered == [False, True]
    assert first["X-Accel-Redirect"] == second["X-Accel-Redirect"] and second["X-Accel-Redirect"].startswith("/_edge/")
    assert second.content == b"" and _comparable(first) == _comparable(second)


def _end_session(world, fam, client):
    sessions.end(DeviceSession.objects.get(session_key=client.session.session_key), "signed_out")


def _sign_out(world, fam, client):
    client.post(reverse("account_logout"))


def _revoke_membership(world, fam, client):
    FamilyMembership.objects.filter(pk=fam.parent_membership.pk).update(revoked_at=timezone.now())


def _discharge(world, fam, client):
    lifecycle.discharge(fam.admission)


def _withdraw_live(world, fam, client):
    lifecycle.withdraw_live(fam.admission)


def _transfer(world, fam, client):
    from cradle.unit.models import Bed

    lifecycle.transfer(fam.admission, Bed.objects.create(unit=world.unit2, label="x9"))


def _suspend(world, fam, client):
    suspension.suspend(None, fam.parent, "bulk_access", {}, unit_id=fam.admission.unit_id)


def _new_password(world, fam, client):
    fam.parent.set_password("another long passphrase 7")
    fam.parent.save()


def _deactivate(world, fam, client):
    get_user_model().objects.filter(pk=fam.parent.pk).update(is_active=False)


def _became_staff(world, fam, client):
    StaffMembership.objects.create(user=fam.parent, unit=world.unit1, role="nurse")


def _shred(world, fam, client):
    service.shred(fam.admission, "test")


# What takes the right away, and what the full path answers afterwards: after a transfer the family still watches
# (the same admission, another bed), and a parent who becomes a nurse with a second factor still may.
@pytest.mark.parametrize(
    ("take_away", "status"),
    [
        (_end_session, 404),
        (_sign_out, 404),
        (_revoke_membership, 404),
        (_discharge, 404),
        (_withdraw_live, 404),
        (_transfer, 200),
        (_suspend, 404),
        (_new_password, 404),
        (_deactivate, 404),
        (_became_staff, 200),
        (_shred, 404),
    ],
)
def test_whatever_may_take_the_right_away_closes_the_fast_path_at_once(
    world, answered, fresh_storage, take_away, status
):
    fam, client, urls = parent_watching(world)
    assert client.get(urls[1]).status_code == 200 and answered[-1] is True
    take_away(world, fam, client)
    assert client.get(urls[2]).status_code == status
    assert answered[-1] is False  # the full path answered
    if status == 404:
        assert Event.objects.filter(action="live.segment", outcome="denied").exists()


def test_a_clip_deleted_closes_its_fast_path(world, answered):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    body = client.get(reverse("clip_playlist", args=[fam.clip_id])).content.decode()
    url = next(line for line in body.splitlines() if line.startswith("/v/"))
    client.get(url)
    assert client.get(url).status_code == 200 and answered[-1] is True
    Clip.objects.filter(pk=fam.clip_id).delete()
    assert client.get(url).status_code == 404 and answered[-1] is False


def test_staff_always_take_the_full_path(world, answered):
    fam = world.families["a"]
    stored(fam)
    client = world.client("nurse1")
    urls = playlist_urls(client, fam)
    for url in urls[:3]:
        assert client.get(url).status_code == 200
    assert answered == [False, False, False]


def test_another_session_or_family_gets_nothing_from_a_grant(world, answered):
    _, client, urls = parent_watching(world)
    assert client.get(urls[0]).status_code == 200 and answered[-1] is True
    for thief in (world.client("parent_b"), world.client("parent_a"), world.client(None)):
        assert thief.get(urls[1]).status_code == 404
        assert answered[-1] is False


def test_a_grant_ends_with_the_device_sessions_idle_time(world, answered):
    _, client, urls = parent_watching(world)
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    for grant in grants.cache().held():
        assert grant.idle_s == device.idle_timeout_s and grant.seen == device.last_seen_at.timestamp()
        assert grant.until <= (device.created_at + timedelta(seconds=device.lifetime_s)).timestamp()
        grant.seen -= device.idle_timeout_s  # as if the idle time had passed
    DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - timedelta(days=1))
    assert client.get(urls[1]).status_code == 404 and answered[-1] is False


def test_the_triggers_log_revocations_and_not_a_devices_last_seen_time(world):
    fam = world.families["a"]
    client = world.client("parent_a")
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    before = Revocation.objects.count()
    DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=timezone.now())
    get_user_model().objects.filter(pk=fam.parent.pk).update(last_login=timezone.now())
    assert Revocation.objects.count() == before
    sessions.end(device, "signed_out")
    kinds = set(Revocation.objects.values_list("kind", "subject"))
    assert ("session", device.session_key) in kinds
    lifecycle.discharge(fam.admission)
    assert ("admission", str(fam.admission.pk)) in set(Revocation.objects.values_list("kind", "subject"))
    with connection.cursor() as cursor:  # whatever changed the row, not only the ORM
        cursor.execute("UPDATE unit_familymembership SET role = role WHERE id = %s", [fam.relative_membership.pk])
    assert ("user", str(fam.relative.pk)) in set(Revocation.objects.values_list("kind", "subject"))


def test_old_revocations_are_pruned(world):
    Revocation.objects.create(at=timezone.now() - timedelta(hours=2), kind="user", subject="1")
    recent = Revocation.objects.create(at=timezone.now(), kind="user", subject="2")
    assert grants.prune() >= 1
    assert not Revocation.objects.filter(at__lt=timezone.now() - timedelta(hours=1)).exists()
    assert Revocation.objects.filter(pk=recent.pk).exists()


def test_an_ended_grant_is_renewed_by_the_full_path(world, answered):
    _, client, urls = parent_watching(world)
    assert client.get(urls[1]).status_code == 200 and answered[-1] is True
    for grant in grants.cache().held():
        grant.until = 0
    assert client.get(urls[2]).status_code == 200 and answered[-1] is False
    assert client.get(urls[3]).status_code == 200 and answered[-1] is True


def test_a_live_playlist_reload_and_a_key_take_the_fast_path_and_read_as_the_full_paths(
    world,
    answered,
    edge_dir,  # noqa: F811
):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    full = client.get(url)
    fast = client.get(url)
    assert answered.others == [("playlist", False), ("playlist", True)]
    assert fast.content == full.content and _comparable(fast) == _comparable(full)
    key_uri = next(line for line in fast.content.decode().splitlines() if "URI=" in line).split('"')[1]
    full_key, fast_key = client.get(key_uri), client.get(key_uri)
    assert answered.others[-2:] == [("key", False), ("key", True)]
    assert fast_key.content == full_key.content and _comparable(fast_key) == _comparable(full_key)
    playlists = list(Event.objects.filter(action="live.playlist", actor_id=fam.parent.pk).order_by("pk"))
    keys = list(Event.objects.filter(action="live.key", actor_id=fam.parent.pk).order_by("pk"))
    assert len(playlists) == 2 and len(keys) == 2
    assert _fetch_fields(playlists[0]) == _fetch_fields(playlists[1])
    assert _fetch_fields(keys[0]) == _fetch_fields(keys[1])


def test_a_playlist_from_a_new_address_takes_the_full_path(world, answered):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    client.get(url)
    assert client.get(url).status_code == 200 and answered.others[-1] == ("playlist", True)
    assert client.get(url, REMOTE_ADDR="192.0.2.7").status_code == 200
    assert answered.others[-1] == ("playlist", False)


def test_a_withdrawn_live_picture_closes_the_playlists_fast_path(world, answered):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    client.get(url)
    assert client.get(url).status_code == 200 and answered.others[-1] == ("playlist", True)
    lifecycle.withdraw_live(fam.admission)
    assert client.get(url).status_code == 404 and answered.others[-1] == ("playlist", False)


def test_fast_fetches_keep_the_device_session_seen(world, answered):
    from cradle.audit import batch

    _, client, urls = parent_watching(world)
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    long_ago = timezone.now() - timedelta(minutes=5)
    DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=long_ago)
    for grant in grants.cache().held():
        grant.seen = long_ago.timestamp()
    assert client.get(urls[1]).status_code == 200 and answered[-1] is True
    batch.flush()
    device.refresh_from_db()
    assert device.last_seen_at > long_ago + timedelta(minutes=4)


@pytest.mark.django_db(transaction=True)
def test_fast_playlist_reloads_wait_in_the_audit_batch_and_the_chain_holds(world, answered, settings):
    from cradle.audit import batch, chain

    # The thread will not flush by itself here.
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=60)
    batch.flush()
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert answered.others == [("playlist", False), ("playlist", True), ("playlist", True)]
    playlists = Event.objects.filter(action="live.playlist", actor_id=fam.parent.pk)
    assert playlists.count() == 1  # the full path's, at once
    assert batch.flush() == 2
    assert playlists.count() == 3 and chain.verify()[1] is None
