"""Attack: a removed relative (or a signed-out, suspended, discharged... viewer) keeps the old session cookie, leaves
the player idle for five minutes, then watches live again from the fast path's grant.

The fast path kept a grant for 240-360 s but read the revocation log only 300 s back: a revocation that no fast
fetch of that process read within 300 s was never applied, and the grant outlived it. Every way of taking the right
away must hold on the next request however long the viewer was idle.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.urls import reverse

from cradle.audit.models import Event
from cradle.viewing import grants
from cradle.viewing.models import Clip, Revocation
from tests.test_fastpath import (
    _became_staff,
    _deactivate,
    _discharge,
    _end_session,
    _new_password,
    _revoke_membership,
    _shred,
    _sign_out,
    _suspend,
    _transfer,
    _withdraw_live,
    answered,  # noqa: F401 - fixture
    parent_watching,
)
from tests.test_viewing import stored

IDLE_SECONDS = 301


@pytest.fixture
def longest_grants(monkeypatch):
    """Every grant gets the longest life the spread allows, so that it is still alive after the idle time."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


def _idle(seconds: float) -> None:
    """As if `seconds` had passed with no fetch at all: grants and revocations are that much older."""
    for grant in grants.cache().held():
        grant.until -= seconds
        grant.seen -= seconds
    Revocation.objects.update(at=F("at") - timedelta(seconds=seconds))


def _keep_cookie(client):
    """The attacker keeps the session cookie they had, whatever the server did to the session."""
    old = client.cookies[settings.SESSION_COOKIE_NAME].value
    return lambda: client.cookies.__setitem__(settings.SESSION_COOKIE_NAME, old)


WAYS = [
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
]


@pytest.mark.parametrize(("take_away", "status"), WAYS)
def test_a_revoked_viewer_idle_for_five_minutes_gets_no_segment_from_the_fast_path(
    world, answered, fresh_storage, longest_grants, take_away, status  # noqa: F811
):
    fam, client, urls = parent_watching(world)
    assert client.get(urls[1]).status_code == 200 and answered[-1] is True
    restore = _keep_cookie(client)
    take_away(world, fam, client)
    restore()
    _idle(IDLE_SECONDS)
    assert grants.cache().held(), "the grant must still be alive for the attack to mean anything"
    assert client.get(urls[2]).status_code == status
    assert answered[-1] is False  # the full path answered, and decided
    if status == 404:
        assert Event.objects.filter(action="live.segment", outcome="denied").exists()


@pytest.mark.parametrize(("take_away", "status"), WAYS)
def test_a_revoked_viewer_idle_for_five_minutes_gets_no_playlist_from_the_fast_path(
    world, answered, fresh_storage, longest_grants, take_away, status  # noqa: F811
):
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    url = reverse("live_playlist", args=[fam.admission.pk])
    client.get(url)
    assert client.get(url).status_code == 200 and answered.others[-1] == ("playlist", True)
    restore = _keep_cookie(client)
    take_away(world, fam, client)
    restore()
    _idle(IDLE_SECONDS)
    assert grants.cache().held()
    assert client.get(url).status_code == status
    assert answered.others[-1] == ("playlist", False)


def test_a_deleted_clip_stays_closed_after_five_idle_minutes(world, answered, longest_grants):  # noqa: F811
    fam = world.families["a"]
    stored(fam)
    client = world.client("parent_a")
    body = client.get(reverse("clip_playlist", args=[fam.clip_id])).content.decode()
    url = next(line for line in body.splitlines() if line.startswith("/v/"))
    client.get(url)
    assert client.get(url).status_code == 200 and answered[-1] is True
    Clip.objects.filter(pk=fam.clip_id).delete()
    _idle(IDLE_SECONDS)
    assert client.get(url).status_code == 404 and answered[-1] is False


def test_pruning_never_deletes_a_revocation_a_live_grant_may_still_need(world):
    from django.utils import timezone

    inside = Revocation.objects.create(
        at=timezone.now() - timedelta(seconds=grants.WINDOW_SECONDS - 5), kind="user", subject="1"
    )
    grants.prune(older_than_s=60)
    assert Revocation.objects.filter(pk=inside.pk).exists()
