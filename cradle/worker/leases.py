"""Leases: how several `cradle worker` processes share the cameras without two ever running the same one.

A worker claims a camera by writing itself into the camera's lease row with an expiry a few seconds ahead and renews
it every round. On PostgreSQL the rows are taken with `SELECT ... FOR UPDATE SKIP LOCKED`, so that workers never wait
for each other's rows; on SQLite every transaction begins IMMEDIATE and holds the database's single write lock, which
makes the same read-then-update just as exclusive.

A lease only says who may run a camera; fencing makes it true. Each segment is written inside a transaction that
first locks the lease row and checks that this worker still holds it, unexpired and of the same epoch; a worker
taking over changes the row under that same lock. Whatever a stalled or cut-off worker still has in memory is then
refused before it reaches storage, and the unique (camera, index) constraint backs this up.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cradle.viewing.models import Lease

HOUSEKEEPING = "housekeeping"
WORKER_PREFIX = "worker/"


class LeaseLost(Exception):
    """This worker no longer holds the lease it is about to write under."""


def camera_lease(camera_id: int) -> str:
    return f"camera/{camera_id}"


def camera_of(name: str) -> int | None:
    prefix, _, rest = name.partition("/")
    return int(rest) if prefix == "camera" and rest.isdigit() else None


def lease_seconds() -> float:
    return settings.CRADLE.lease_seconds


def _locked(rows, skip_locked: bool = False):
    # SQLite has no row locks: its IMMEDIATE transaction already excludes every other writer.
    if not connection.features.has_select_for_update:
        return rows
    return rows.select_for_update(skip_locked=skip_locked and connection.features.has_select_for_update_skip_locked)


class Leaseholder:
    """One worker's side of the leases: claim, renew, release, and write under a lease (fenced)."""

    def __init__(self, holder: str | None = None, seconds: float | None = None) -> None:
        self.holder = holder or f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.seconds = seconds if seconds is not None else lease_seconds()

    def claim(self, names: list[str], limit: int = 0) -> dict[str, Lease]:
        """Renews the leases of `names` this worker holds and takes free or expired ones, up to `limit` cameras
        in all (0: no limit); gives every lease of `names` it holds afterwards."""
        now = timezone.now()
        Lease.objects.bulk_create([Lease(name=n, expires_at=now) for n in names], ignore_conflicts=True)
        until = now + timedelta(seconds=self.seconds)
        held: dict[str, Lease] = {}
        # Own leases whose rows are locked are this worker's own camera writing a segment under them (`fenced`;
        # another worker can lock one only once it has expired): they stay held, renewed on the next round, rather
        # than skipped, which would stop the camera and start it again. Read before the locked rows, unlocked.
        mine = {
            lease.name: lease for lease in Lease.objects.filter(name__in=names, holder=self.holder, expires_at__gt=now)
        }
        with transaction.atomic():
            rows = Lease.objects.filter(name__in=names).filter(Q(holder=self.holder) | Q(expires_at__lte=now))
            # Own leases first, so that the limit counts them before any new one is taken.
            for lease in sorted(_locked(rows, skip_locked=True), key=lambda x: (x.holder != self.holder, x.name)):
                if lease.holder != self.holder:
                    is_camera = camera_of(lease.name) is not None
                    cameras = {n for n in (*held, *mine) if camera_of(n) is not None}
                    if is_camera and limit and len(cameras) >= limit:
                        continue
                    lease.holder = self.holder
                    lease.epoch += 1
                lease.expires_at = until
                lease.save(update_fields=["holder", "epoch", "expires_at"])
                held[lease.name] = lease
        for name, lease in mine.items():
            held.setdefault(name, lease)
        return held

    def unheld(self, names: list[str]) -> list[str]:
        """Those of `names` no worker holds now (never taken, handed back or expired)."""
        now = timezone.now()
        return list(
            Lease.objects.filter(name__in=names)
            .filter(Q(holder="") | Q(expires_at__lte=now))
            .values_list("name", flat=True)
        )

    def release(self, names: list[str]) -> None:
        """Gives leases up at once (a clean stop), so that another worker need not wait for them to expire."""
        if names:
            Lease.objects.filter(name__in=names, holder=self.holder).update(holder="", expires_at=timezone.now())

    def announce(self) -> int:
        """Keeps this worker's presence row fresh; gives how many workers are alive, itself included."""
        now = timezone.now()
        Lease.objects.update_or_create(
            name=WORKER_PREFIX + self.holder[: 80 - len(WORKER_PREFIX)],
            defaults={"holder": self.holder, "expires_at": now + timedelta(seconds=self.seconds)},
        )
        if now.second == 0:  # now and then, forget workers long gone
            Lease.objects.filter(name__startswith=WORKER_PREFIX, expires_at__lt=now - timedelta(hours=1)).delete()
        return Lease.objects.filter(name__startswith=WORKER_PREFIX, expires_at__gt=now).count()

    def withdraw(self) -> None:
        Lease.objects.filter(name__startswith=WORKER_PREFIX, holder=self.holder).delete()

    @contextmanager
    def fenced(self, name: str, epoch: int) -> Iterator[Lease]:
        """A transaction in which this worker still holds `name` at `epoch`; raises LeaseLost otherwise.

        Write the work inside it: a worker taking over has to change the same locked row, so it waits until this
        transaction has committed or rolled back and then sees every segment written under the old epoch.
        """
        with transaction.atomic():
            rows = Lease.objects.filter(name=name, holder=self.holder, epoch=epoch, expires_at__gt=timezone.now())
            lease = _locked(rows).first()
            if lease is None:
                raise LeaseLost(name)
            yield lease


def fair_share(cameras: int, workers: int, cap: int = 0) -> int:
    """How many cameras one worker should run: an even split over the live workers, at most `cap` (0: no cap)."""
    share = math.ceil(cameras / max(workers, 1)) if cameras else 0
    return min(share, cap) if cap else share
