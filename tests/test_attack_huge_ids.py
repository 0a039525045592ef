"""Attack: ids past what the database holds in an address (`/babies/9223372036854775808/live.m3u8`), even
anonymously, gave a 500 and skipped the audit. Every route with an id answers such a number with the 404 and the
audit event that any other id outside the person's scope gets."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from cradle.audit.models import Event

HUGE = ["9223372036854775808", "99999999999999999999999999", "1" * 5000]


def id_routes() -> list[str]:
    """Every page address with an id in it, the id written as {}."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and re.search(r"<(id|int):", str(p.pattern)):
                yield "/" + re.sub(r"<(id|int):\w+>", "{}", prefix + str(p.pattern))

    return sorted(walk(get_resolver().url_patterns))


def test_every_id_in_an_address_goes_through_the_id_converter():
    assert len(id_routes()) > 30
    assert not [str(p.pattern) for p in get_resolver().url_patterns if "<int:" in str(getattr(p, "pattern", ""))]


@pytest.mark.parametrize("huge", HUGE)
def test_an_anonymous_huge_playlist_id_is_a_404_and_is_audited(world, client, huge):
    response = client.get(f"/babies/{huge}/live.m3u8")
    assert response.status_code == 404
    assert Event.objects.filter(action="live.playlist", outcome="denied", actor_id=None).exists()


@pytest.mark.parametrize("actor", ["parent_a", "nurse1", "privacy", "admin"])
def test_every_route_answers_a_huge_id_with_an_audited_404(world, actor):
    client = world.client(actor)
    user = world.users[actor]
    for route in id_routes():
        address = route.format(*[HUGE[0]] * route.count("{}"))
        for method in (client.get, client.post):
            before = Event.objects.filter(actor_id=user.pk, outcome="denied").count()
            response = method(address)
            assert response.status_code in (404, 405), f"{method.__name__} {address}: {response.status_code}"
            if response.status_code == 404:
                after = Event.objects.filter(actor_id=user.pk, outcome="denied").count()
                assert after > before, f"{method.__name__} {address} was refused without an audit event"


@pytest.mark.parametrize("path", ["admissions/{}", "admissions/{}/watchers", "admissions/{}/family"])
def test_the_api_answers_a_huge_id_with_an_audited_404(world, path):
    client = world.client("parent_a")
    response = client.get("/api/v1/" + path.format(HUGE[0]))
    assert response.status_code == 404
    assert Event.objects.filter(actor_id=world.users["parent_a"].pk, outcome="denied").exists()
