"""Backup and restore size and time, then the retention run and its proof, on a ward of kept clips.

A throw-away installation made by `cradle init` (SQLite, local disk): one unit with N admitted babies, each with S
seconds of clips sealed in the segment store as the worker leaves them (two marked variants of A_KIB KiB and a
reference of REF_KIB KiB per second, random bytes, so nothing compresses). Then, as an operator would run them:
`cradle backup OUT`, `cradle restore IN --replace` into empty media storage (a new machine with the same keys), every
baby discharged with its grace period over, `cradle retention run` and `cradle retention verify`.

    .venv/bin/python bench/lifecycle.py [--admissions 4] [--seconds 120]
"""

from __future__ import annotations

import argparse
import io
import os
import time

from bench_ward import Installation, machine

A_KIB, REF_KIB = 120, 30


def populate(admissions: int, seconds: int) -> int:
    """Admissions with `seconds` of clips each; gives the bytes stored."""
    from datetime import timedelta

    from django.utils import timezone

    from cradle.accounts.models import User
    from cradle.unit.models import Admission, Bed, Camera, Unit
    from cradle.viewing.models import Clip, LiveSegment
    from cradle.viewing.storage import segment_store

    store = segment_store()
    unit = Unit.objects.create(name="Bench NICU", code="bench")
    nurse = User.objects.create(username="bench-nurse", display_name="Bench Nurse")
    stored = 0
    for number in range(admissions):
        bed = Bed.objects.create(unit=unit, label=f"B{number + 1}")
        camera = Camera.objects.create(bed=bed, source_url=f"sim://bench-{number}")
        admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)
        store.admit(admission.media_id)
        rows = []
        for index in range(seconds):
            for variant, size in (("A", A_KIB), ("B", A_KIB), ("ref", REF_KIB)):
                store.put(admission.media_id, str(camera.pk), index, variant, os.urandom(size * 1024))
                stored += size * 1024
            rows.append(
                LiveSegment(
                    camera=camera,
                    admission=admission,
                    index=index,
                    started_at=timezone.now() - timedelta(seconds=seconds - index),
                    duration=1.0,
                    in_clip=True,
                    fingerprint=os.urandom(324),
                )
            )
        LiveSegment.objects.bulk_create(rows)
        clip = Clip.objects.create(admission=admission, camera=camera, duration=float(seconds))
        clip.segments.set(LiveSegment.objects.filter(admission=admission))
    return stored


def command(*args: str) -> tuple[str, float]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command(*args, stdout=out)
    return out.getvalue().strip(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=120)
    args = parser.parse_args()
    with Installation("cradle-bench-lifecycle-") as installation:
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        from cradle.unit.models import Admission
        from cradle.viewing import storage

        stored = populate(args.admissions, args.seconds)
        objects = args.admissions * (args.seconds * 3 + 1)
        print(machine())
        print(
            f"ward: {args.admissions} admissions x {args.seconds} s of clips = {objects} objects, "
            f"{stored / 2**20:.1f} MiB"
        )
        out = installation.dir / "cradle.backup"
        printed, backup_s = command("backup", str(out))
        size = out.stat().st_size
        print(
            f"backup:  {size / 2**20:.1f} MiB ({size / stored:.3f} x the media) in {backup_s:.2f} s"
            f" = {size / 2**20 / backup_s:.0f} MiB/s"
        )
        settings.MEDIA_DIR = installation.dir / "restored-media"
        storage.forget()
        printed, restore_s = command("restore", str(out), "--replace")
        print(f"restore: {size / 2**20:.1f} MiB in {restore_s:.2f} s = {size / 2**20 / restore_s:.0f} MiB/s")
        print(f"         {printed.split(': ', 1)[1]}")
        Admission.objects.update(discharged_at=timezone.now() - timedelta(days=31))
        printed, run_s = command("retention", "run")
        shredded = next(line for line in printed.splitlines() if line.startswith("objects destroyed"))
        print(f"retention run: {run_s:.2f} s ({shredded})")
        printed, verify_s = command("retention", "verify")
        print(f"retention verify: {verify_s:.2f} s")
        for line in printed.splitlines():
            print(f"  {line}")


if __name__ == "__main__":
    main()
