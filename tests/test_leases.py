"""Leases between workers: one holder at a time, takeover after expiry, and writes fenced by the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cradle.viewing.models import Lease
from cradle.worker.leases import Leaseholder, LeaseLost, fair_share


@pytest.mark.django_db
def test_a_camera_has_one_holder_until_its_lease_expires():
    one, two = Leaseholder("one", seconds=10), Leaseholder("two", seconds=10)
    assert set(one.claim(["camera/1", "camera/2"])) == {"camera/1", "camera/2"}
    assert two.claim(["camera/1", "camera/2"]) == {}
    Lease.objects.filter(name="camera/1").update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = two.claim(["camera/1", "camera/2"])
    assert set(taken) == {"camera/1"} and taken["camera/1"].epoch == 2


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_cannot_write_under_it():
    one, two = Leaseholder("one", seconds=10), Leaseholder("two", seconds=10)
    epoch = one.claim(["camera/1"])["camera/1"].epoch
    with one.fenced("camera/1", epoch) as lease:
        lease.next_index = 8
        lease.save()
    Lease.objects.filter(name="camera/1").update(expires_at=timezone.now())
    # Expired: refused even before anyone else has taken it.
    with pytest.raises(LeaseLost), one.fenced("camera/1", epoch):
        pass
    assert two.claim(["camera/1"])["camera/1"].next_index == 8
    with pytest.raises(LeaseLost), one.fenced("camera/1", epoch):
        pass
    # Renewing does not bring it back either: it is two's now.
    assert one.claim(["camera/1"]) == {}


@pytest.mark.django_db
def test_a_limit_keeps_a_worker_to_its_share_and_release_hands_cameras_on():
    one, two = Leaseholder("one"), Leaseholder("two")
    names = ["camera/1", "camera/2", "camera/3"]
    assert len(one.claim(names, limit=fair_share(3, 2))) == 2
    assert set(two.claim(names, limit=2)) == {"camera/3"}
    one.release(["camera/1"])
    assert set(two.claim(names, limit=2)) == {"camera/1", "camera/3"}


def test_the_share_is_an_even_split_within_the_cap():
    assert fair_share(5, 2) == 3
    assert fair_share(5, 2, cap=2) == 2
    assert fair_share(0, 3) == 0
    assert fair_share(4, 0) == 4


@pytest.mark.django_db(transaction=True)
def test_a_lease_its_own_camera_is_writing_under_stays_held_through_a_renewal():
    """A camera's segment is written in a transaction that locks its lease row (`fenced`); the worker's renewal a
    second later skips rows locked elsewhere (PostgreSQL). Its own locked lease must stay held and must not be
    released: dropping it stopped and restarted the camera whenever a renewal met a segment being stored."""
    import threading

    from django.db import connections

    one = Leaseholder("one", seconds=10)
    held = one.claim(["camera/1", "camera/2"])
    epoch = held["camera/1"].epoch
    writing, renewed = threading.Event(), threading.Event()

    def write() -> None:
        try:
            with one.fenced("camera/1", epoch):
                writing.set()
                # Held until the renewal is done (PostgreSQL: it skips the locked row) or for a second (SQLite: one
                # writer at a time, so the renewal waits for this write to end).
                renewed.wait(1)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert writing.wait(30)
        again = one.claim(["camera/1", "camera/2"], limit=2)
        assert set(again) == {"camera/1", "camera/2"} and again["camera/1"].epoch == epoch
        assert Leaseholder("two", seconds=10).claim(["camera/1", "camera/2", "camera/3"], limit=1) == {
            "camera/3": Lease.objects.get(name="camera/3")
        }
    finally:
        renewed.set()
        writer.join(30)
    assert Lease.objects.get(name="camera/1").holder == "one"
