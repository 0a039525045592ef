"""500 live viewers for 60 s against nginx + the app on loopback, against nginx sending the same bytes as static files.

The set-up is the one a hospital runs at scale: deploy/nginx/cradle.conf (rendered for loopback, plain HTTP) in front
of `cradle serve` (gunicorn) in edge mode, on a throw-away installation made by `cradle init` (one unit, one admitted
bed, N family accounts each signed in on one device, six 50 KiB segments sealed in the segment store), with the edge
folder on a tmpfs (/dev/shm) where there is one. Each viewer keeps one HTTP/1.1 keep-alive connection, fetches its
playlist and the key it names, then one segment a second like a player. Every fetch reaches the app and is authorised
and audited before nginx sends the encrypted copy; after each viewer's first fetches in each app process (the warm-up,
not measured), the app answers them on its fast path (cradle/viewing/fastpath.py) and prints how many it did.

The baseline is the same nginx sending the same bytes from files, with the same request pattern. Printed: errors,
p50 and p99 segment latency, fetches per second, and the ratio app/static (targets: 0 errors, ratio >= 0.5,
p99 < 50 ms). Viewers run in separate client processes on the same machine, so they share its CPUs with the servers.

With --reload each viewer also reloads its playlist before each segment, as a live player does (the latencies stay
those of the segments). What it does not model: each second of a real stream brings a new segment, so each fetch of
a new segment reads or writes the account's variant choice; here six segments stand for the stream.

    .venv/bin/python bench/load.py [--viewers 500] [--seconds 60] [--workers CPUs+1] [--threads 1] [--reload]
                                   [--profile] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import bench_nginx
from bench_ward import Installation, machine, stop, viewers, ward, worker_pids
from delivery import SEGMENT_BYTES, SEGMENTS, measure, profile, store_segments, where_time_goes


def static_copy(folder: Path) -> None:
    """The baseline's playlist beside the segment files store_segments left there."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for index in range(SEGMENTS):
        lines += ["#EXTINF:1.000,", f"/static-bench/{index}"]
    (folder / "live.m3u8").write_text("\n".join(lines) + "\n")


def freshen(seconds: float) -> None:
    """The six segments stand for the live stream for the whole run: their addresses (a minute from the segment's
    making) must not expire under the viewers, so they count as made a little ahead."""
    from django.utils import timezone

    from cradle.viewing.models import LiveSegment

    now = timezone.now()
    LiveSegment.objects.update(created_at=now + timedelta(seconds=seconds), started_at=now)


def fast_path_counts(app_port: int) -> Counter:
    """The app processes' cradle_fast_path_total by outcome, from their /metrics (open on loopback)."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{app_port}/metrics", timeout=10).read().decode()
    counts: Counter = Counter()
    for line in body.splitlines():
        if line.startswith("cradle_fast_path_total{"):
            labels, _, value = line.rpartition(" ")
            kind, outcome = (labels.split(f'{name}="')[1].split('"')[0] for name in ("kind", "outcome"))
            counts[f"{kind} {outcome}"] += float(value)
    return counts


def per_fetch_cost(cookie: str, playlist: str, count: int = 200) -> None:
    """CPU time and database queries of one authorised fetch, in this process (Django's test client, no HTTP): what
    each of the app's fetches costs, whatever the machine's other load."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["cradle_session"] = cookie
    body = client.get(playlist).content.decode()
    urls = [line for line in body.splitlines() if line.startswith("/v/")]
    for url in urls:  # the first fetch of each segment makes its copy and the account's variant choice
        client.get(url)
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        client.get(urls[0])
    began = time.process_time()
    for n in range(count):
        client.get(urls[n % len(urls)])
    cpu_ms = (time.process_time() - began) / count * 1000
    began = time.process_time()
    for _ in range(count):
        client.get("/healthz")
    bare_ms = (time.process_time() - began) / count * 1000
    print(
        f"Per authorised fetch (this process, no HTTP): {cpu_ms:.1f} ms CPU, {len(queries)} "
        f"database queries; a bare request through the same middleware: {bare_ms:.1f} ms CPU"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--reload", action="store_true", help="each viewer reloads its playlist every second, as a live player does"
    )
    parser.add_argument("--warm-up", type=float, default=10.0, help="seconds every viewer watches before the runs")
    parser.add_argument("--profile", action="store_true", help="py-spy the app workers during the app run")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (postgres://user@host:port/db) to make a throw-away database on"
    )
    args = parser.parse_args()
    if args.viewers < 1 or args.seconds <= 0:
        parser.error("--viewers and --seconds must be positive")

    shm = Path("/dev/shm")
    edge_dir = Path(tempfile.mkdtemp(prefix="cradle-bench-edge-", dir=shm if shm.is_dir() else None))
    os.environ["CRADLE_EDGE_DIR"] = str(edge_dir)
    try:
        with Installation("cradle-bench-load-", args.database_url) as inst:
            print(f"Machine: {machine()}")
            print(f"Database: {'PostgreSQL' if args.database_url else 'SQLite (the embedded default)'}")
            place = ward()
            began = time.monotonic()
            cookies = viewers(place.admission, args.viewers)
            store_segments(place.admission, place.camera, inst.dir / "baseline")
            static_copy(inst.dir / "baseline")
            print(f"Set-up: {args.viewers} signed-in viewers in {time.monotonic() - began:.0f} s")
            app, app_port = inst.serve(args.workers, args.threads)
            _nginx, port = bench_nginx.start(inst, app_port, edge_dir, inst.dir / "baseline", args.nginx_workers)
            print(
                f"Servers: nginx ({args.nginx_workers} worker) in front of {args.workers} gunicorn workers x "
                f"{args.threads} threads, edge folder {edge_dir}; segments {SEGMENT_BYTES // 1024} KiB; "
                f"{args.seconds:.0f} s per run, one fetch per viewer per second; {args.clients} client processes"
            )
            playlist = f"/babies/{place.admission.pk}/live.m3u8"
            freshen(args.seconds + 120)
            # Not what is measured: workers import and load translations on their first requests, the edge copies
            # are made on the first fetches, and each viewer's first fetches in each app process take the full path
            # (authorisation, the account's variant choice of each segment) and leave the grant the rest use.
            measure(port, cookies, playlist, True, args.warm_up, args.clients, args.reload)
            measure(port, [None] * min(50, args.viewers), "/static-bench/live.m3u8", False, 2.0, args.clients)

            from cradle.audit.models import Event

            events_before = Event.objects.count()
            spies = profile(worker_pids(app), args.seconds, inst.dir) if args.profile else []
            fast_before = fast_path_counts(app_port)
            app_run = measure(port, cookies, playlist, True, args.seconds, args.clients, args.reload)
            fast = fast_path_counts(app_port) - fast_before
            for spy in spies:
                spy.wait(timeout=60)
            load_between = machine().rsplit("load average ", 1)[1]
            static_run = measure(
                port, [None] * args.viewers, "/static-bench/live.m3u8", True, args.seconds, args.clients, args.reload
            )

            print(
                f"\n{'server':>14} {'requests':>8} {'errors':>6} {'fetch/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
                f"{'Mbit/s':>7} {'client CPU':>10}"
            )
            for name, r in (("nginx + app", app_run), ("nginx static", static_run)):
                print(
                    f"{name:>14} {r['requests']:>8} {r['errors']:>6} {r['rate']:>8.0f} {r['p50']:>7.1f} "
                    f"{r['p99']:>7.1f} {r['mbps']:>7.0f} {r['client_cpu']:>9.0f}%"
                )
            ratio = app_run["rate"] / static_run["rate"] if static_run["rate"] else float("nan")
            reloading = ", each reloading its playlist every second" if args.reload else ""
            print(f"\n{args.viewers} viewers{reloading}, {args.seconds:.0f} s, edge mode through nginx:")
            print(f"  errors            {app_run['errors']} (target 0)")
            print(f"  segment latency   p50 {app_run['p50']:.1f} ms, p99 {app_run['p99']:.1f} ms (target p99 < 50 ms)")
            print(f"  ratio app/static  {ratio:.2f} (fetches/s; target >= 0.5)")
            print(f"  nginx static      p50 {static_run['p50']:.1f} ms, p99 {static_run['p99']:.1f} ms")

            answered = ", ".join(f"{outcome} {n:.0f}" for outcome, n in fast.most_common())
            print(f"  fast path         {answered or 'no segment fetches'} (fetches of the app run)")

            events = Event.objects.count() - events_before
            denied = Event.objects.filter(outcome="denied").count()
            print(f"\nAudit events written during the app run: {events} ({denied} denied)")
            from cradle.audit.chain import verify

            checked, broken = verify()
            print(f"Audit chain after the runs: {checked} events, {'intact' if broken is None else broken}")
            copies = list(edge_dir.rglob("*.ts"))
            print(f"Edge copies on the tmpfs: {len(copies)} files, {sum(p.stat().st_size for p in copies)} bytes")
            print(
                f"Load average after the app run: {load_between}; at the end: {machine().rsplit('load average ', 1)[1]}"
            )
            per_fetch_cost(cookies[0], playlist)
            if args.profile:
                where_time_goes(inst.dir)
            stop(app)
    finally:
        shutil.rmtree(edge_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
