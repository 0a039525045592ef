"""What an audit event costs to append and to verify: one at a time, in batches, and the whole chain's walk.

A throw-away installation made by `cradle init` (SQLite by default, or PostgreSQL with --database-url), in this one
process: N events appended one per transaction (a first fetch of a session, a sign-in), then N more in batches of B
(the media fetches cradle/audit/batch.py queues), then the audit spool (cradle/audit/spool.py): a fetch's durable
append with its fsync, from one thread and from several at once (one fsync covers the records written before it), and
the merge of the spool into the chain; then `cradle audit verify` over all of them.

    .venv/bin/python bench/audit_append.py [--events 2000] [--batch 50] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import io
import time

from bench_ward import Installation, machine


def fields(i: int) -> dict:
    from django.utils import timezone

    return {
        "at": timezone.now(),
        "actor_id": 7,
        "actor_name": "Bench Relative",
        "action": "live.segment",
        "unit_id": 1,
        "admission_id": 3,
        "ip": "192.0.2.10",
        "session": "a1b2c3d4e5f6a7b8c9d0e1f2",
        "outcome": "ok",
        "detail": {"camera": 3, "segment": i, "variant": "A"},
    }


def checkpoint_alone(count: int) -> None:
    """The anchor's share of an append: one checkpoint line under the file lock, compactions included."""
    try:
        from cradle.audit import anchor
    except ImportError:
        return  # a Cradle from before the anchor
    from cradle.audit.models import Event

    head = Event.objects.order_by("-seq").first()
    place = anchor.current()
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(1, count + 1):
        place.advance(head.seq + i, head.hash, head.seq + i)
    each = (time.perf_counter() - began) / count
    each_cpu = (time.process_time() - cpu) / count
    print(
        f"anchor checkpoint alone:            {each * 1e6:.1f} µs per commit, CPU {each_cpu * 1e6:.1f} µs "
        "(compactions included)"
    )
    place.reset(anchor.Checkpoint.now(head.seq, head.hash, place.checkpoints()[-1].keyed_from))


def spool_figures(count: int, threads: int) -> int:
    """What a media fetch's durable spool append costs (the answer waits for it), and what merging costs; gives how
    many events were merged."""
    import threading

    from cradle.audit import spool

    print(f"spool file: {spool.path()}")
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        spool.append(fields(i))
    each = (time.perf_counter() - began) / count
    each_cpu = (time.process_time() - cpu) / count
    print(f"spool append + fsync, one thread:   {each * 1e6:.1f} µs per event, CPU {each_cpu * 1e6:.1f} µs")

    def run(first: int) -> None:
        for i in range(first, first + count // threads):
            spool.append(fields(i))

    workers = [threading.Thread(target=run, args=(n * count,)) for n in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    done = threads * (count // threads)
    print(f"spool append + fsync, {threads} threads:    {done / wall:,.0f} events/s ({wall / done * 1e6:.1f} µs each)")
    began, cpu = time.perf_counter(), time.process_time()
    merged = spool.merge()
    each = (time.perf_counter() - began) / merged
    each_cpu = (time.process_time() - cpu) / merged
    print(f"spool merge into the chain:         {each * 1e6:.1f} µs per event, CPU {each_cpu * 1e6:.1f} µs ({merged})")
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--threads", type=int, default=8, help="threads appending to the spool at once")
    args = parser.parse_args()
    with Installation("cradle-bench-audit-", args.database_url):
        from django.core.management import call_command
        from django.db import connection

        from cradle.audit import chain

        chain.append(**fields(0))  # connection, keys and tables warmed up
        print(machine())
        print(f"database: {connection.vendor}")
        # CPU time beside wall time: on a shared machine it is the steadier figure to compare.
        began, cpu = time.perf_counter(), time.process_time()
        for i in range(args.events):
            chain.append(**fields(i))
        single = (time.perf_counter() - began) / args.events
        single_cpu = (time.process_time() - cpu) / args.events
        print(
            f"append, one event per transaction:  {single * 1e3:.3f} ms per event, CPU {single_cpu * 1e3:.3f} ms "
            f"({args.events} events)"
        )
        began, cpu = time.perf_counter(), time.process_time()
        for start in range(0, args.events, args.batch):
            chain.append_many([fields(i) for i in range(start, min(start + args.batch, args.events))])
        batched = (time.perf_counter() - began) / args.events
        batched_cpu = (time.process_time() - cpu) / args.events
        print(
            f"append_many, batches of {args.batch}:        {batched * 1e6:.1f} µs per event, CPU "
            f"{batched_cpu * 1e6:.1f} µs"
        )
        checkpoint_alone(args.events)
        spooled = spool_figures(args.events, args.threads)
        out = io.StringIO()
        began = time.perf_counter()
        call_command("audit", "verify", stdout=out)
        walked = time.perf_counter() - began
        total = 2 * args.events + 1 + spooled
        rate = total / walked
        print(f"audit verify: {walked:.2f} s for {total} events = {rate:,.0f} events/s ({out.getvalue().strip()})")


if __name__ == "__main__":
    main()
