"""Measure worker failover: two `cradle worker` processes share N cameras, one is killed with SIGKILL, and this prints
how long its cameras went without a holder and without a picture.

    .venv/bin/python bench/failover.py [--cameras 2] [--lease 10] [--database-url postgres://...]

It runs in a fresh data folder (SQLite there unless --database-url names an empty PostgreSQL database) with small
simulated cameras. Figures: takeover = kill -> the surviving worker holds the lease; picture gap = the longest time
between two consecutive segments of a taken-over camera (its last segment before the kill to its first after).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--camera", default="sim://bed-{n}?size=160x120&fps=5", help="source address; {n} is numbered")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="cradle-failover-"))
    env = {
        **os.environ,
        "CRADLE_DATA_DIR": str(data),
        "CRADLE_LEASE_SECONDS": str(args.lease),
        "DATABASE_URL": args.database_url or f"sqlite:///{data / 'cradle.sqlite3'}",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
    cradle = [sys.executable, "-m", "cradle.cli"]
    subprocess.run([*cradle, "init"], env=env, check=True, stdout=subprocess.DEVNULL)

    import django

    django.setup()
    from cradle.accounts.models import User
    from cradle.unit.models import Admission, Bed, Camera, Unit
    from cradle.viewing.models import Lease, LiveSegment
    from cradle.worker.leases import camera_lease

    unit = Unit.objects.create(name="Bench unit", code=f"bench{os.getpid()}")
    nurse = User.objects.create_user(f"bench{os.getpid()}", None)
    cameras = []
    for n in range(args.cameras):
        bed = Bed.objects.create(unit=unit, label=f"B{n}")
        cameras.append(Camera.objects.create(bed=bed, source_url=args.camera.format(n=n)).pk)
        Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)

    def holders() -> dict[int, str]:
        rows = Lease.objects.filter(name__in=[camera_lease(c) for c in cameras])
        return {int(r.name.split("/")[1]): r.holder for r in rows if r.expires_at.timestamp() > time.time()}

    workers = [subprocess.Popen([*cradle, "worker"], env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        started = time.monotonic()
        while True:
            held = holders()
            pids = {int(h.split(":")[1]) for h in held.values() if h}
            running = all(LiveSegment.objects.filter(camera_id=c).count() >= 3 for c in cameras)
            if len(held) == len(cameras) and len(pids) == 2 and running:
                break
            if time.monotonic() - started > 300:
                print("the workers did not share the cameras within 5 minutes", file=sys.stderr)
                return 1
            time.sleep(0.2)
        victim = max(pids, key=lambda p: sum(int(h.split(":")[1]) == p for h in held.values()))
        lost = [c for c, h in held.items() if int(h.split(":")[1]) == victim]
        process = next(w for w in workers if w.pid == victim)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed = time.monotonic()
        taken: dict[int, float] = {}
        first: dict[int, float] = {}
        counts = {c: LiveSegment.objects.filter(camera_id=c).count() for c in lost}
        while len(first) < len(lost) and time.monotonic() - killed < 10 * args.lease:
            held = holders()
            for c in lost:
                if c not in taken and held.get(c) and int(held[c].split(":")[1]) != victim:
                    taken[c] = time.monotonic() - killed
                if c not in first and LiveSegment.objects.filter(camera_id=c).count() > counts[c]:
                    first[c] = time.monotonic() - killed
            time.sleep(0.05)
        time.sleep(3)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(timeout=30)
    gaps = []
    for c in lost:
        rows = list(LiveSegment.objects.filter(camera_id=c).order_by("index").values_list("index", "started_at"))
        indexes = [i for i, _ in rows]
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), "segment indexes are not continuous"
        gaps.append(max((b - a).total_seconds() for (_, a), (_, b) in itertools.pairwise(rows)))
    engine = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print(f"database: {engine}; lease: {args.lease:g} s; cameras: {len(cameras)}, {len(lost)} on the killed worker")
    print(f"takeover (kill -> lease held by the survivor): max {max(taken.values(), default=float('nan')):.2f} s")
    print(f"first segment after the kill: max {max(first.values(), default=float('nan')):.2f} s")
    print(f"longest gap between consecutive segments of a taken-over camera: {max(gaps):.2f} s")
    print(f"limit (2 x lease): {2 * args.lease:g} s; segment indexes continuous, none repeated")
    return 0 if len(taken) == len(lost) and max(taken.values()) <= 2 * args.lease else 1


if __name__ == "__main__":
    sys.exit(main())
