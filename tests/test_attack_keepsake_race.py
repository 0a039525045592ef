"""Attack: a parent sends six keepsake requests at once. The daily count was checked before encoding and recorded
after it, so all six passed the check (seven keepsakes in a day with a limit of five). The place must be reserved
in the same step as the count."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from cradle.audit.models import Event
from cradle.viewing import keepsake
from cradle.viewing.models import Keepsake

LIMIT = 5
AT_ONCE = 6


@pytest.fixture
def slow_encoder(monkeypatch):
    """The encoder below the view takes its time, as a real one does, so that every request is inside it at once."""

    def make(clip, device, fps=15.0):
        time.sleep(0.5)
        return b"\x00\x00\x00\x18ftypmp42"

    monkeypatch.setattr(keepsake, "make", make)


def _post_at_once(world, clip_id: int, count: int) -> list[int]:
    clients = [world.client("parent_a") for _ in range(count)]
    start = threading.Barrier(count)
    statuses: list[int] = []

    def send(client):
        start.wait()
        try:
            statuses.append(client.post(reverse("keepsake", args=[clip_id])).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_six_keepsakes_at_once_give_five_and_one_refusal(world, settings, slow_encoder):
    settings.CRADLE = {**settings.CRADLE, "KEEPSAKES_PER_DAY": LIMIT}
    fam = world.families["a"]
    statuses = _post_at_once(world, fam.clip_id, AT_ONCE)
    assert sorted(statuses) == [200] * LIMIT + [302]
    made = Event.objects.filter(action="clip.keepsake", outcome="ok", actor_id=fam.parent.pk)
    assert made.count() == LIMIT
    assert Keepsake.objects.filter(user=fam.parent, state=Keepsake.State.READY).count() == LIMIT


@pytest.mark.django_db(transaction=True)
def test_a_keepsake_that_could_not_be_made_gives_its_place_back(world, settings, monkeypatch):
    settings.CRADLE = {**settings.CRADLE, "KEEPSAKES_PER_DAY": 1}
    fam = world.families["a"]

    def broken(clip, device, fps=15.0):
        raise ValueError("the clip has no pictures")

    monkeypatch.setattr(keepsake, "make", broken)
    parent = world.client("parent_a")
    assert parent.post(reverse("keepsake", args=[fam.clip_id])).status_code == 404
    monkeypatch.setattr(keepsake, "make", lambda clip, device, fps=15.0: b"mp4")
    assert parent.post(reverse("keepsake", args=[fam.clip_id])).status_code == 200
    assert parent.post(reverse("keepsake", args=[fam.clip_id])).status_code == 302
