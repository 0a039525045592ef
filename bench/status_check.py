"""What one state check of the player costs (babies/<id>/status.json, every 3 s per open player): the full path
(session, account, device session, scope, second-step rule, camera, newest segment, audit) against the fast path that
answers a session's later checks once one has been authorised (revocation log, camera, newest segment; the audit
event batched as segment fetches are).

In-process (Django's test client on a throw-away installation made by `cradle init`, SQLite), so the figures are the
app's own work per check, without HTTP; queries are counted with the audit batch written at the end.

    .venv/bin/python bench/status_check.py [--checks 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

from bench_ward import Installation, machine, viewers, ward


def run(checks: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from cradle.audit import batch
    from cradle.unit.models import Unit
    from cradle.viewing import grants
    from cradle.viewing.models import LiveSegment

    w = ward()
    Unit.objects.update(family_second_step=False)  # the viewers are made without one; not what is measured here
    [cookie] = viewers(w.admission, 1)
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    url = reverse("live_status", args=[w.admission.pk])

    def measure(label: str) -> None:
        LiveSegment.objects.create(
            camera=w.camera, admission=w.admission, index=LiveSegment.objects.count(), started_at=timezone.now(),
            duration=1.0, frames=15,
        )  # fmt: skip
        for _ in range(3):  # the first checks learn the headers and leave the grant
            assert client.get(url).json()["code"] == "live"
        with CaptureQueriesContext(connection) as done:
            client.get(url)
        queries = [q for q in done.captured_queries if "SAVEPOINT" not in q["sql"]]
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(checks):
            client.get(url)
        cpu, wall = (time.process_time() - cpu) / checks, (time.perf_counter() - wall) / checks
        batch.flush()
        print(f"{label:10} {len(queries):3d} queries  {cpu * 1000:6.2f} ms CPU  {wall * 1000:6.2f} ms wall per check")

    print(f"status checks, {checks} each; {machine()}")
    settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=False)
    measure("full path")
    settings.CRADLE = dataclasses.replace(settings.CRADLE, fast_path=True)
    grants.cache().reset()
    measure("fast path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("CRADLE_ALLOWED_HOSTS", "127.0.0.1,localhost")
    with Installation("cradle-bench-status-"):
        run(args.checks)


if __name__ == "__main__":
    main()
