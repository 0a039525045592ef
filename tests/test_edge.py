"""Edge mode: the app authorises and audits each fetch, nginx sends an AES-128 copy that only the key address opens.

These tests stop at the app's answer (the X-Accel-Redirect address) and read the copy where nginx would;
tests/test_nginx.py runs the same path through Debian's nginx.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time

import pytest
from django.test import Client
from django.urls import reverse

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.store import StoreError
from cradle.viewing import delivery, edge, storage
from cradle.viewing.models import ServedVariant
from tests.conftest import sign_in
from tests.test_viewing import _older_urls, playlist_urls, stored

KEY_LINE = re.compile(r'#EXT-X-KEY:METHOD=AES-128,URI="(?P<uri>/v/[A-Za-z0-9_-]+\.key)",IV=0x(?P<iv>[0-9a-f]{32})')


@pytest.fixture
def edge_dir(settings, tmp_path):
    settings.EDGE_DIR = tmp_path / "edge"
    settings.EDGE_DIR.mkdir()
    settings.EDGE_LOCATION = "/_edge/"
    return settings.EDGE_DIR


def playlist(client: Client, url: str) -> list[tuple[str, bytes, str]]:
    """(key address, IV, segment address) of every segment of a playlist."""
    response = client.get(url)
    assert response.status_code == 200
    items, key = [], None
    for line in response.content.decode().splitlines():
        if match := KEY_LINE.fullmatch(line):
            key = (match["uri"], bytes.fromhex(match["iv"]))
        elif line and not line.startswith("#"):
            assert key is not None, "a segment without its key line"
            items.append((key[0], key[1], line))
    return items


def fetch(client: Client, edge_dir, key_uri: str, iv: bytes, url: str) -> bytes:
    """The plaintext a player gets: the copy nginx would send, opened with the key from the key address."""
    response = client.get(url)
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"] == "video/mp2t" and response["Cache-Control"].startswith("no-store")
    location = response["X-Accel-Redirect"]
    assert location.startswith("/_edge/")
    copy = (edge_dir / location.removeprefix("/_edge/")).read_bytes()
    key = client.get(key_uri)
    assert key.status_code == 200 and len(key.content) == 16
    return edge.decrypt(key.content, iv, copy)


def test_a_parent_gets_an_encrypted_copy_that_the_key_address_opens(world, edge_dir):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    items = playlist(client, reverse("live_playlist", args=[fam.admission.pk]))
    assert len(items) == 6
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    for key_uri, iv, url in items:
        plain = fetch(client, edge_dir, key_uri, iv, url)
        variant, camera, index = plain.decode().split(":")
        assert variant == "AB"[delivery.session_bit(device, int(camera), int(index))]
    # Every copy on the edge's disk is ciphertext.
    for path in edge_dir.rglob("*.ts"):
        assert not path.read_bytes().startswith((b"A:", b"B:"))
    segments = Event.objects.filter(action="live.segment", outcome="ok", actor_id=fam.parent.pk)
    assert segments.count() == 6 and {e.detail["variant"] for e in segments} <= {"A", "B"}
    keys = Event.objects.filter(action="live.key", outcome="ok", actor_id=fam.parent.pk)
    assert keys.count() == 6 and all(e.admission_id == fam.admission.pk and e.session for e in keys)


def test_the_key_address_is_the_same_through_an_epoch_and_playlist_reloads(world, edge_dir):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    first, again = playlist(client, url), playlist(client, url)
    assert len({uri for uri, _iv, _url in first + again}) == 1
    assert len({iv for _uri, iv, _url in first}) == len(first)  # one IV per segment


def test_another_family_a_stranger_and_forged_or_expired_key_addresses_get_404(world, edge_dir, settings):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    key_uri, _iv, url = playlist(client, reverse("live_playlist", args=[fam.admission.pk]))[0]
    assert world.client("parent_b").get(key_uri).status_code == 404
    assert world.client("parent_b").get(url).status_code == 404
    assert Client().get(key_uri).status_code == 404
    token = key_uri.removeprefix("/v/").removesuffix(".key")
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(reverse("segment_key", args=[forged])).status_code == 404
    # A segment address is no key address, and the reverse.
    assert client.get(url.replace(".ts", ".key")).status_code == 404
    assert client.get(key_uri.replace(".key", ".ts")).status_code == 404
    settings.CRADLE = dataclasses.replace(settings.CRADLE, edge_key_epoch_seconds=1)
    old = edge.KeyEpoch(fam.bed.camera.pk, epoch=int(time.time()) - 3600)
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    assert client.get(delivery.key_url(device, fam.admission.pk, old)).status_code == 404
    # Even a genuine key address of their own session opens nothing of another family's baby.
    other = world.client("parent_b")
    theirs = DeviceSession.objects.get(session_key=other.session.session_key)
    current = edge.epoch_of(fam.bed.camera.pk, time.time())
    assert other.get(delivery.key_url(theirs, fam.admission.pk, current)).status_code == 404
    reasons = set(Event.objects.filter(action="live.key", outcome="denied").values_list("detail__reason", flat=True))
    assert {"another or ended session", "out of scope", "bad signature", "expired"} <= reasons


def test_no_account_ever_gets_both_variants_of_a_segment_in_edge_mode(world, edge_dir):
    fam = world.families["a"]
    stored(fam, count=32)
    first, second = Client(), Client()
    sign_in(first, fam.parent)
    sign_in(second, fam.parent)
    devices = [DeviceSession.objects.get(session_key=c.session.session_key) for c in (first, second)]
    camera = fam.bed.camera.pk
    assert any(
        delivery.session_bit(devices[0], camera, i) != delivery.session_bit(devices[1], camera, i) for i in range(1, 33)
    )
    got: dict[int, set[str]] = {}
    for client in (first, second):
        items = playlist(client, reverse("live_playlist", args=[fam.admission.pk]))
        key_uri = items[0][0]
        rows = {row.pk: row for row in fam.admission.segments.filter(in_clip=False)}
        for url in [u for _k, _iv, u in items] + _older_urls(client, fam, devices):
            ticket = delivery.open_ticket(url.removeprefix("/v/").removesuffix(".ts"))
            row = rows[ticket.segment_id]
            iv = edge.iv_for(edge.epoch_of(camera, row.started_at.timestamp()), row.index)
            variant, _cam, index = fetch(client, edge_dir, key_uri, iv, url).decode().split(":")
            got.setdefault(int(index), set()).add(variant)
    assert all(len(v) == 1 for v in got.values())
    assert ServedVariant.objects.filter(user=fam.parent).count() == len(got)


def test_the_playlist_and_the_copy_names_do_not_tell_the_variant(world, edge_dir):
    fam = world.families["a"]
    stored(fam, count=16)
    parent, relative = world.client("parent_a"), world.client("relative_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    ivs = {who: [iv for _k, iv, _u in playlist(c, url)] for who, c in (("parent", parent), ("relative", relative))}
    # Viewers who get different variants see the same IVs: the playlist is the same but for its addresses.
    assert ivs["parent"] == ivs["relative"]
    epoch = edge.epoch_of(fam.bed.camera.pk, time.time())
    names = {edge.relative_path(fam.admission.media_id, epoch, 3, v) for v in ("A", "B")}
    assert len(names) == 2 and all(re.fullmatch(r"[0-9a-f]{32}/live/[0-9a-f]{40}\.ts", n) for n in names)


def test_a_clip_plays_from_copies_under_the_clip_key(world, edge_dir):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    items = playlist(client, reverse("clip_playlist", args=[fam.clip_id]))
    assert len(items) == 1 and len({uri for uri, _iv, _url in items}) == 1
    key_uri, iv, url = items[0]
    variant, _camera, index = fetch(client, edge_dir, key_uri, iv, url).decode().split(":")
    assert variant in "AB" and index == "0"
    assert list(edge_dir.glob("*/clip/*.ts"))
    assert Event.objects.filter(action="clip.key", outcome="ok", detail__clip=fam.clip_id).count() == 1
    assert world.client("relative_b").get(key_uri).status_code == 404


def test_discharge_and_forget_remove_the_admissions_copies(world, edge_dir):
    fam, other = world.families["a"], world.families["b"]
    for f, who in ((fam, "parent_a"), (other, "parent_b")):
        stored(f)
        client = world.client(who)
        for key_uri, iv, url in playlist(client, reverse("live_playlist", args=[f.admission.pk]))[:2]:
            fetch(client, edge_dir, key_uri, iv, url)
    assert len(list(edge_dir.rglob("*.ts"))) == 4
    world.client("nurse1").post(reverse("discharge", args=[fam.admission.pk]))
    assert len(list(edge_dir.rglob("*.ts"))) == 2  # the other family's stay
    edge.forget(other.admission.media_id)
    assert not list(edge_dir.rglob("*.ts"))


def test_old_copies_leave_with_the_live_buffer_and_clip_copies_after_their_time(world, edge_dir, settings):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    for key_uri, iv, url in playlist(client, reverse("live_playlist", args=[fam.admission.pk]))[:2]:
        fetch(client, edge_dir, key_uri, iv, url)
    key_uri, iv, url = playlist(client, reverse("clip_playlist", args=[fam.clip_id]))[0]
    fetch(client, edge_dir, key_uri, iv, url)
    now = time.time()
    assert edge.sweep(now) == 0
    assert edge.sweep(now + settings.CRADLE.live_buffer_seconds + 1) == 2
    assert len(list(edge_dir.glob("*/clip/*.ts"))) == 1
    assert edge.sweep(now + settings.CRADLE.edge_clip_seconds + 1) == 1


def test_shredding_the_admission_leaves_its_copies_unreadable(world, edge_dir):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    key_uri, iv, url = playlist(client, reverse("live_playlist", args=[fam.admission.pk]))[0]
    fetch(client, edge_dir, key_uri, iv, url)
    storage.segment_store().shred(fam.admission.media_id)
    with pytest.raises(StoreError):
        edge.key_for(fam.admission.media_id, edge.epoch_of(fam.bed.camera.pk, time.time()))
    assert client.get(key_uri).status_code == 404
    assert Event.objects.filter(action="live.key", outcome="denied", detail__reason="unreadable").exists()


def test_edge_copies_are_readable_by_the_edge_folders_group_only(world, edge_dir):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    key_uri, iv, url = playlist(client, reverse("live_playlist", args=[fam.admission.pk]))[0]
    fetch(client, edge_dir, key_uri, iv, url)
    (path,) = edge_dir.rglob("*.ts")
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.stat(path.parent).st_mode & 0o777 == 0o750


def test_without_edge_mode_playlists_carry_no_keys_and_the_app_sends_the_bytes(world):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    body = client.get(reverse("live_playlist", args=[fam.admission.pk])).content.decode()
    assert "#EXT-X-KEY" not in body
    response = client.get(playlist_urls(client, fam)[0])
    assert response.status_code == 200 and "X-Accel-Redirect" not in response and response.content
