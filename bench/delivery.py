"""Authorised live segment fetches per second and p99 latency at 50, 200 and 500 viewers, against the same bytes raw.

The app is `cradle serve` (gunicorn, as deployed) on a throw-away installation made by `cradle init`: one unit, one
admitted bed, N family accounts each signed in on one device, and six 50 KiB segments sealed in the segment store. Each
simulated viewer keeps one HTTP/1.1 keep-alive connection, fetches its own playlist once, then fetches the segment
addresses in it, either as fast as the server answers (throughput) or one a second as a player does (paced). Every
fetch that reaches the app is authorised in full: session, device session, ticket, scope, variant choice, decryption
and an audit event on the hash chain.

The raw baseline is gunicorn with the same worker model (2 workers x 4 threads, access log on) serving the same bytes
from memory through a minimal WSGI app (bench/bench_raw.py), so the ratio is Cradle's work per fetch and not one HTTP
server against another. Viewers run in separate client processes (asyncio, raw HTTP/1.1); the client CPU column
shows how much of the machine they took.

With --edge the same runs go through deploy/nginx/cradle.conf (bench/bench_nginx.py) to the app in edge mode: the app
authorises and audits each fetch and nginx sends the AES-128 copy; the baseline is then that nginx sending the same
bytes as static files (bench/load.py runs the 500-viewer minute this way).

    .venv/bin/python bench/delivery.py [--levels 50,200,500] [--seconds 10] [--profile] [--edge]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_http import run_viewers
from bench_ward import VENV_BIN, Installation, machine, stop, viewers, wait_for, ward, worker_pids

SEGMENT_BYTES = 50 * 1024
SEGMENTS = 6  # the live playlist's length (LIVE_PLAYLIST_SEGMENTS)
WORKERS = 2  # `cradle serve`'s default


def store_segments(admission, camera, folder: Path) -> None:
    """Segments as the worker leaves them (sealed, indexed); the raw baseline gets the same plaintext."""
    from django.utils import timezone

    from cradle.viewing.models import LiveSegment
    from cradle.viewing.storage import segment_store

    store = segment_store()
    store.admit(admission.media_id)
    folder.mkdir()
    for index in range(SEGMENTS):
        variants = {v: os.urandom(SEGMENT_BYTES) for v in ("A", "B", "ref")}
        for variant, data in variants.items():
            store.put(admission.media_id, str(camera.pk), index, variant, data)
        (folder / str(index)).write_bytes(variants["A"])
        LiveSegment.objects.create(
            camera=camera, admission=admission, index=index, started_at=timezone.now(), duration=1.0
        )


def freshen() -> None:
    """Live segment addresses expire a minute after the segment was made: as in a live ward, the segments a run
    fetches are new ones (and, in edge mode, of the current key epoch)."""
    from django.utils import timezone

    from cradle.viewing.models import LiveSegment

    now = timezone.now()
    LiveSegment.objects.update(created_at=now, started_at=now)


def raw_server(inst: Installation, folder: Path) -> tuple[subprocess.Popen, int]:
    from bench_ward import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "bench_raw:application",
            "--chdir",
            str(Path(__file__).parent),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
        env={**os.environ, "BENCH_RAW_DIR": str(folder)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    inst._servers.append(server)
    wait_for(port, server)
    return server, port


def measure(
    port: int, cookies: list, playlist: str, paced: bool, seconds: float, clients: int, reload: bool = False
) -> dict:
    """One run: every viewer gets its playlist, then all fetch together for `seconds` (with `reload`, each fetches
    its playlist again before each segment, as a live player does)."""
    ctx = multiprocessing.get_context("fork")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start = ctx.Value("d", 0.0)
    procs = [
        ctx.Process(
            target=run_viewers,
            args=(port, cookies[i::clients], playlist, paced, seconds, ready, go, start, results, reload),
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    start.value = time.time() + 0.2
    go.set()
    latencies, errors, sent, cpu = [], 0, 0, 0.0
    for _ in procs:
        lat, err, n, used = results.get(timeout=seconds + 120)
        latencies += lat
        errors += err
        sent += n
        cpu += used
    for p in procs:
        p.join()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": len(latencies) + errors,
        "errors": errors,
        "rate": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "mbps": sent * 8 / seconds / 1e6,
        "client_cpu": cpu / seconds / (os.cpu_count() or 1) * 100,
    }


def profile(pids: list[int], seconds: float, folder: Path) -> list[subprocess.Popen]:
    """py-spy on each app worker while a run goes on (only when py-spy is installed)."""
    spy = VENV_BIN / "py-spy"
    return [
        subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--format", "raw", "--rate",
             "200", "--nonblocking", "--output", str(folder / f"spy-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]  # fmt: skip


# Where a fetch's time can go, named by the frame that does the work (inclusive of everything it calls).
STAGES = {
    "the fast path, in all (FastSegmentMiddleware.serve)": "serve (cradle/viewing/fastpath.py",
    "  of which the revocation log read": "follow_revocations (cradle/viewing/grants.py",
    "the full path's segment view": "segment (cradle/viewing/views.py",
    "the full path's playlist and key views": "live_playlist (cradle/viewing/views.py",
    "Django's handler around the middleware (request, signals)": "__call__ (django/core/handlers/wsgi.py",
    "gunicorn: reading the request, writing the response": "handle (gunicorn/workers/gthread.py",
    "audit event (chain.append)": "append (cradle/audit/chain.py",
    "variant choice (ServedVariant get_or_create)": "variant_for (cradle/viewing/delivery.py",
    "segment read + AES-GCM open (store.get)": "get (cradle/media/store.py",
    "edge copy (publish: stat, or decrypt + AES-128 encrypt + write)": "publish (cradle/viewing/edge.py",
    "scope check (get_watchable_admission)": "get_watchable_admission (cradle/scope.py",
    "ticket open (open_ticket)": "open_ticket (cradle/viewing/delivery.py",
    "session load (SessionMiddleware/auth)": "_get_session_from_db (django/contrib/sessions/backends/db.py",
    "device session check (SessionPolicyMiddleware)": "_check (cradle/accounts/middleware.py",
    "SQLite: waiting on / taking the write lock (BEGIN IMMEDIATE)": "_start_transaction_under_autocommit (",
    "SQLite: commit": "commit (django/db/backends/base/base.py",
    "SQLite: connect": "connect (django/db/backends/base/base.py",
}


def where_time_goes(folder: Path) -> None:
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for path in folder.glob("spy-*.txt"):
        if keep := os.environ.get("BENCH_KEEP_PROFILE"):
            shutil.copy(path, keep)
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            for name, marker in STAGES.items():
                if any(marker in f for f in frames):
                    inclusive[name] += n
            leaf[frames[-1].split(" (")[0] + " (" + frames[-1].split("/")[-1]] += n
    if not total:
        print("(py-spy gave no samples; is it installed in the virtualenv?)")
        return
    print(f"\nWhere the app workers' time went (py-spy, {total} samples of busy threads):")
    for name in STAGES:
        print(f"  {inclusive[name] / total * 100:5.1f}%  {name}")
    print("  top leaf frames:")
    for name, n in leaf.most_common(int(os.environ.get("BENCH_TOP_FRAMES", "8"))):
        print(f"  {n / total * 100:5.1f}%  {name}")


def serial_write_cost(place, cookie: str, count: int = 200) -> None:
    """The two write transactions of every fetch, alone, in this process: a bound on fetches/s while SQLite
    serialises writers, whatever the number of workers."""
    from cradle.accounts.models import DeviceSession
    from cradle.audit.chain import append
    from cradle.viewing.delivery import variant_for

    device = DeviceSession.objects.get(session_key=cookie)
    began = time.perf_counter()
    for i in range(count):
        append(actor_id=device.user_id, actor_name="bench", action="live.segment", unit_id=place.unit.pk,
               admission_id=place.admission.pk, ip="127.0.0.1", session=device.public_id, outcome="ok",
               detail={"camera": place.camera.pk, "segment": i, "variant": "A"})  # fmt: skip
    append_ms = (time.perf_counter() - began) / count * 1000
    began = time.perf_counter()
    for i in range(count):
        variant_for(device, place.camera.pk, 10_000 + i)
    variant_ms = (time.perf_counter() - began) / count * 1000
    print(
        f"Write transactions alone (serial, this process): audit append {append_ms:.2f} ms, new ServedVariant "
        f"{variant_ms:.2f} ms; SQLite's single writer caps authorised fetches at about "
        f"{1000 / (append_ms + variant_ms):.0f}/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="50,200,500")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--profile", action="store_true", help="py-spy the app at the middle level, as fast as it goes")
    parser.add_argument(
        "--edge", action="store_true", help="through nginx, the app in edge mode; nginx static baseline"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    edge_dir = None
    if args.edge:
        shm = Path("/dev/shm")
        edge_dir = Path(tempfile.mkdtemp(prefix="cradle-bench-edge-", dir=shm if shm.is_dir() else None))
        os.environ["CRADLE_EDGE_DIR"] = str(edge_dir)

    with Installation("cradle-bench-delivery-") as inst:
        place = ward()
        print(f"Machine: {machine()}")
        cookies = viewers(place.admission, max(levels))
        store_segments(place.admission, place.camera, inst.dir / "raw")
        app, app_port = inst.serve(WORKERS)
        playlist = f"/babies/{place.admission.pk}/live.m3u8"
        raw_playlist = "/live.m3u8"
        if edge_dir is not None:
            import bench_nginx
            from load import static_copy

            static_copy(inst.dir / "raw")
            raw, app_port = bench_nginx.start(inst, app_port, edge_dir, inst.dir / "raw")
            raw_port, raw_playlist = app_port, "/static-bench/live.m3u8"
            print(f"Edge mode: nginx in front of the app, copies in {edge_dir}; baseline: that nginx, static files")
        else:
            raw, raw_port = raw_server(inst, inst.dir / "raw")
        print(
            f"Servers: {WORKERS} gunicorn workers x 4 threads each; segments {SEGMENT_BYTES // 1024} KiB; "
            f"{args.seconds:.0f} s per run; {args.clients} client processes"
        )
        print(
            f"{'viewers':>7} {'mode':>6} {'server':>6} {'requests':>8} {'errors':>6} {'fetch/s':>8} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'Mbit/s':>7} {'client CPU':>10}"
        )
        # Workers import and load translations on their first requests; that is not what is measured.
        measure(app_port, cookies[: min(levels)], playlist, False, 2.0, args.clients)
        measure(raw_port, [None] * min(levels), raw_playlist, False, 2.0, args.clients)
        ratios = []
        from cradle.audit.models import Event

        events_before = Event.objects.count()
        for level in levels:
            for paced in (False, True):
                mode = "paced" if paced else "max"
                row = {}
                for name, port, path, who in (
                    ("app", app_port, playlist, cookies[:level]),
                    ("raw", raw_port, raw_playlist, [None] * level),
                ):
                    if name == "app":
                        freshen()
                    spies = []
                    if args.profile and name == "app" and not paced and level == levels[len(levels) // 2]:
                        spies = profile(worker_pids(app), args.seconds, inst.dir)
                    r = measure(port, who, path, paced, args.seconds, args.clients)
                    for spy in spies:
                        spy.wait(timeout=60)
                    row[name] = r
                    print(
                        f"{level:>7} {mode:>6} {name:>6} {r['requests']:>8} {r['errors']:>6} {r['rate']:>8.0f} "
                        f"{r['p50']:>8.1f} {r['p99']:>8.1f} {r['mbps']:>7.0f} {r['client_cpu']:>9.0f}%"
                    )
                    sys.stdout.flush()
                ratios.append((level, mode, row["app"]["rate"] / row["raw"]["rate"], row["app"], row["raw"]))
        print("\nRatio app/raw (fetches/s; target >= 0.5). Paced: offered load is one fetch per viewer per second.")
        for level, mode, ratio, a, r in ratios:
            print(
                f"  {level:>4} viewers {mode:>5}: {ratio:5.2f}   p99 app {a['p99']:7.1f} ms vs raw {r['p99']:6.1f} ms"
            )
        events = Event.objects.count() - events_before
        denied = Event.objects.filter(outcome="denied").count()
        print(f"\nAudit events written during the runs: {events} ({denied} denied)")
        from cradle.audit.chain import verify

        checked, broken = verify()
        print(f"Audit chain after the runs: {checked} events, {'intact' if broken is None else broken}")
        print(f"Load average at the end: {machine().rsplit('load average ', 1)[1]}")
        serial_write_cost(place, cookies[0])
        if args.profile:
            where_time_goes(inst.dir)
        stop(app)
        stop(raw)
    if edge_dir is not None:
        shutil.rmtree(edge_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
