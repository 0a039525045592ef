"""One delivery contract: a fetch the fast path may answer gets the same answer and the same audit event whether the
fast path answers it or the full path does, for every kind of fetch and every way it can stand; and the fast path
finds its routes in the URL configuration, wherever they are (cradle/viewing/fastpath.py, cradle/viewing/answer.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client, override_settings
from django.urls import path, reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from cradle.accounts.models import DeviceSession
from cradle.audit import batch
from cradle.audit.models import Event
from cradle.unit.models import FamilyMembership
from cradle.viewing import delivery, views
from cradle.viewing.models import LiveSegment
from tests.test_viewing import stored

FIELDS = ("actor_id", "actor_name", "action", "unit_id", "admission_id", "ip", "session", "outcome", "detail")
# What may differ between two answers of the same fetch: the moment, and cookies the session middleware renews.
VARYING = {"date", "expires", "set-cookie"}


@pytest.fixture(params=["store", "edge"])
def mode(request, settings, tmp_path) -> str:
    """Segments from the segment store, or (edge mode) from nginx's encrypted copies, with keys."""
    if request.param == "edge":
        settings.EDGE_DIR = tmp_path / "edge"
        settings.EDGE_DIR.mkdir()
        settings.EDGE_LOCATION = "/_edge/"
    return request.param


def served(kind: str) -> float:
    """How many fetches of this kind the fast path answered in this process (its metric)."""
    return REGISTRY.get_sample_value("cradle_fast_path_total", {"kind": kind, "outcome": "served"}) or 0.0


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict
    events: list
    fast: bool

    def same_as(self, other: Answer) -> bool:
        return (self.status, self.content_type, self.body, self.headers, self.events) == (
            other.status,
            other.content_type,
            other.body,
            other.headers,
            other.events,
        )


def fetch(client: Client, url: str, kind: str) -> Answer:
    """One fetch, what it answered and what it audited."""
    newest = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    before = served(kind)
    response = client.get(url)
    batch.flush()
    events = [tuple(getattr(e, f) for f in FIELDS) for e in Event.objects.filter(pk__gt=newest).order_by("pk")]
    html = response["Content-Type"].startswith("text/html")
    return Answer(
        response.status_code,
        response["Content-Type"],
        # A page (the 404 page) carries a fresh nonce each time: what it says is its status and type.
        b"" if html else response.content,
        {} if html else {k.lower(): v for k, v in response.items() if k.lower() not in VARYING},
        events,
        served(kind) > before,
    )


def both_ways(settings, client: Client, url: str, kind: str) -> tuple[Answer, Answer]:
    """The same fetch with the fast path on, then with it off."""
    fast = fetch(client, url, kind)
    settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=False)
    try:
        full = fetch(client, url, kind)
    finally:
        settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=True)
    assert not full.fast
    return fast, full


@dataclass
class Watching:
    """Family A's parent watching the live picture and a clip, every kind of fetch once on the full path (which
    left the grants and taught the fast path the headers of each kind): the addresses the player has."""

    client: Client
    urls: dict[str, str]


def _lines(body: bytes) -> tuple[list[str], list[str]]:
    text = body.decode()
    segments = [line for line in text.splitlines() if line.startswith("/")]
    keys = [line.split('"')[1] for line in text.splitlines() if "URI=" in line]
    return segments, keys


def watching(world, mode: str) -> Watching:
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    playlist = reverse("live_playlist", args=[fam.admission.pk])
    status = reverse("live_status", args=[fam.admission.pk])
    segments, keys = _lines(client.get(playlist).content)
    clip_segments, clip_keys = _lines(client.get(reverse("clip_playlist", args=[fam.clip_id])).content)
    for url in [segments[0], clip_segments[0], *keys[:1], *clip_keys[:1], status, status]:
        assert client.get(url).status_code == 200
    urls = {"playlist": playlist, "status": status, "segment": segments[1], "clip segment": clip_segments[0]}
    if mode == "edge":
        urls |= {"key": keys[0], "clip key": clip_keys[0]}
    return Watching(client, urls)


KIND = {"clip segment": "segment", "clip key": "key"}


def _revoke(world, w: Watching) -> Client:
    FamilyMembership.objects.filter(pk=world.families["a"].parent_membership.pk).update(revoked_at=timezone.now())
    return w.client


def _another_family(world, w: Watching) -> Client:
    return world.client("parent_b")


def _another_session(world, w: Watching) -> Client:
    return world.client("parent_a")  # the same account signed in again: another device session


def _signed_out(world, w: Watching) -> Client:
    return Client()


def _discharged(world, w: Watching) -> Client:
    from cradle import lifecycle

    lifecycle.discharge(world.families["a"].admission)
    return w.client


ADDRESSES = {"segment", "clip segment", "key", "clip key"}  # addresses bound to the session that got them

# Who asks after what; whether the fast path may answer (the others it must leave to the full path); and which
# fetches the full path refuses then (a 404 and a denied event).
SITUATIONS: dict[str, tuple[Callable, bool, set[str]]] = {
    "allowed": (lambda world, w: w.client, True, set()),
    "revoked": (_revoke, False, ADDRESSES | {"playlist"}),
    "discharged": (_discharged, False, ADDRESSES | {"playlist"}),
    "another family": (_another_family, False, ADDRESSES | {"playlist"}),
    # The same account signed in on another device gets its own playlist, not the first one's addresses.
    "another session": (_another_session, False, ADDRESSES),
    "signed out": (_signed_out, False, ADDRESSES | {"playlist"}),
}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_fast_path_and_the_full_path_give_the_same_answer_and_event(world, settings, mode, situation):
    w = watching(world, mode)
    who, fast_may_answer, refused = SITUATIONS[situation]
    client = who(world, w)
    for name, url in w.urls.items():
        kind = KIND.get(name, name)
        fast, full = both_ways(settings, client, url, kind)
        assert fast.fast is fast_may_answer, f"{name}: answered by the fast path: {fast.fast}"
        assert fast.same_as(full), f"{name} ({situation}, {mode}):\n{fast}\n{full}"
        if fast_may_answer:
            assert full.status == 200 and len(full.events) == 1 and full.events[0][7] == "ok"
        if name in refused:
            assert full.status == 404 and [e[7] for e in full.events] == ["denied"], name
        elif name != "status":
            assert full.status == 200 and [e[7] for e in full.events] == ["ok"], name


def _forged(world, w: Watching, name: str) -> str:
    """An address of the same kind the fast path cannot take: altered, expired, or of an unknown object."""
    fam = world.families["a"]
    device = DeviceSession.objects.get(session_key=w.client.session.session_key)
    if name == "playlist":
        return reverse("live_playlist", args=[10**9])
    if name == "status":
        return reverse("live_status", args=[10**9])
    if name == "segment":
        row = LiveSegment.objects.filter(admission=fam.admission).order_by("-index").first()
        return delivery.segment_url(device, row, 60, start=time.time() - 3600)  # expired an hour ago
    if name == "clip segment":
        url = w.urls[name]
        middle = len(url) // 2
        return url[:middle] + ("A" if url[middle] != "A" else "B") + url[middle + 1 :]  # altered
    ticket = delivery.KeyTicket(device.pk, 10**9, fam.bed.camera.pk, 0, 0, int(time.time()) + 60)
    return reverse("segment_key", args=[delivery.seal_key_ticket(ticket)])  # an admission that does not exist


def test_addresses_the_fast_path_cannot_take_get_the_full_paths_answer(world, settings, mode):
    w = watching(world, mode)
    for name in w.urls:
        kind = KIND.get(name, name)
        fast, full = both_ways(settings, w.client, _forged(world, w, name), kind)
        assert not fast.fast and fast.same_as(full), f"{name} ({mode}):\n{fast}\n{full}"
        assert full.status == 404


class MovedRoutes:
    """cradle.urls with the media routes somewhere else: the fast path must follow them (it resolves addresses, it
    does not parse them)."""

    def __init__(self) -> None:
        from cradle import urls

        moved = {
            "segment": path("media/<str:token>.ts", views.segment, name="segment"),
            "segment_key": path("media/<str:token>.key", views.segment_key, name="segment_key"),
            "live_playlist": path("baby/<id:admission_id>/stream.m3u8", views.live_playlist, name="live_playlist"),
            "live_status": path("baby/<id:admission_id>/state.json", views.live_status, name="live_status"),
        }
        self.urlpatterns = [moved.get(getattr(p, "name", None), p) for p in urls.urlpatterns]
        self.handler404 = urls.handler404


def test_routes_moved_in_the_url_configuration_still_take_the_fast_path(world, settings, mode):
    with override_settings(ROOT_URLCONF=MovedRoutes()):
        w = watching(world, mode)
        assert w.urls["segment"].startswith("/media/") and w.urls["playlist"].endswith("/stream.m3u8")
        for name, url in w.urls.items():
            fast, full = both_ways(settings, w.client, url, KIND.get(name, name))
            assert fast.fast, f"{name} at {url} no longer takes the fast path"
            assert fast.same_as(full)
