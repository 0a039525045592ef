"""Batched audit writes: later fetches wait a moment, the first fetch of a session never does, the chain holds."""

from __future__ import annotations

import dataclasses

import pytest

from cradle.audit import batch, chain
from cradle.audit.models import Event
from tests.test_viewing import playlist_urls, stored


@pytest.fixture
def batching(settings):
    # The thread will not flush by itself here.
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=60)
    batch.flush()
    yield
    batch.flush()


@pytest.mark.django_db(transaction=True)
def test_the_first_fetch_is_written_at_once_and_the_rest_in_a_batch(world, batching):
    fam = world.families["a"]
    stored(fam)
    client = world.client("relative_a")
    urls = playlist_urls(client, fam)
    for url in urls:
        assert client.get(url).status_code == 200
    fetched = Event.objects.filter(action="live.segment", actor_id=fam.relative.pk)
    assert fetched.count() == 1  # the first one, at once: a crash now would not hide that this viewing began
    assert batch.flush() == len(urls) - 1
    assert fetched.count() == len(urls)
    assert sorted(fetched.values_list("detail__segment", flat=True)) == sorted(range(3, 9))
    assert chain.verify()[1] is None
    # Times are those of the fetches, not of the write.
    times = list(fetched.order_by("seq").values_list("at", flat=True))
    assert times == sorted(times)


@pytest.mark.django_db(transaction=True)
def test_a_new_session_or_picture_is_written_at_once_again(world, batching):
    fam = world.families["a"]
    stored(fam)
    for actor in ("relative_a", "parent_a"):
        client = world.client(actor)
        client.get(playlist_urls(client, fam)[0])
    assert Event.objects.filter(action="live.segment").count() == 2


@pytest.mark.nodb
def test_the_batch_thread_ends_once_batching_is_turned_off(settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=0.05)
    batch._start()
    thread = batch._thread
    assert thread.is_alive()
    settings.CRADLE = dataclasses.replace(settings.CRADLE, audit_batch_seconds=0)
    batch._wake.set()  # a thread started by an earlier test may be in a long wait
    # Left running, it would wait no time over and over, taking a core from everything else in the process.
    thread.join(timeout=30)
    assert not thread.is_alive()
