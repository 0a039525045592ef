"""Run N simulated 15 fps cameras through source -> redact -> x264 and print what holds real time.

With --viewing each camera goes on as the live worker does: forensic marks, the A and B variants and the unmarked
reference encoded per 1 s segment, each sealed into an encrypted store, instead of one MP4. --size picks the
cameras' resolution (640x480 or 1280x720, ...). Before the runs it prints the CPU model, the load average and a
per-stage CPU table of one camera (decode, motion, detection, masks, marks, each encode, sealing), and what a camera
that keeps up costs, stage by stage, over several seconds of the beds the runs use (bench_camera.sustained): the
figure a loaded machine does not change, where the rows of a run on it count screened frames that cost no masks.

A real camera's frames are decoded from H.264, not drawn: each simulated bed is rendered and recorded as H.264
before the clock starts, and its camera thread decodes that recording with PyAV as the source stage does, so the
CPU figures are the pipeline's and a real decode's, not the simulator's drawing.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
from bench_camera import FPS, bed, sustained
from bench_camera import decoded as _decoded
from bench_camera import recording as _recording

from cradle.media.encode import X264_PARAMS, X264_PRESET, Mp4Writer
from cradle.media.frames import Frame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.sim import SimCamera, SimSettings

# Share of the machine's cores the projection lets redaction use (the rest: bursts of motion, the web, the OS).
CPU_BUDGET = 0.8


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}"


class _ViewingWriter:
    """What the live worker does with safe frames: mark, encode A, B and the reference per segment, seal, store."""

    def __init__(self, n: int, folder: Path, width: int = 640, height: int = 480) -> None:
        from cradle.media.hls import SegmentWriter
        from cradle.media.store import LocalDisk, MasterKey, SegmentStore

        master = MasterKey.create(folder / f"master-{n}.key")
        self._store = SegmentStore(LocalDisk(folder / f"media-{n}"), master)
        self._admission = f"bench{n}"
        self._store.admit(self._admission)
        # As the live pipeline: each segment is encoded on a thread of its own (cradle.media.live).
        self._segments = SegmentWriter(b"bench-mark-key-0123456789abcdef", str(n), width, height, FPS, background=True)

    def write(self, frame) -> None:
        self._put(self._segments.write(frame))

    def _put(self, segments) -> None:
        for segment in segments:
            for variant, data in (("A", segment.a), ("B", segment.b), ("ref", segment.reference)):
                self._store.put(self._admission, "cam", segment.index, variant, data)

    def close(self) -> None:
        self._put(self._segments.close())
        self._segments.stop()


def _camera(
    n: int,
    pool: DetectorPool,
    policy: CameraPolicy,
    seconds: float,
    folder: Path,
    results: list,
    viewing: bool,
    size: tuple[int, int],
    recording: bytes,
    warmup: float = 0.0,
) -> None:
    width, height = size
    warm = round(warmup * FPS)  # frames before this one are not counted (the camera's start)
    frames = _decoded(recording)
    redactor = Redactor(policy, pool, fps=FPS)
    if viewing:
        writer = _ViewingWriter(n, folder, width, height)
    else:
        writer = Mp4Writer(folder / f"bed-{n}.mp4", width, height, FPS, Fraction(1, 90000))
    delays: list[float] = []
    emitted: list[float] = []
    written = screens = 0
    counts = copy.copy(redactor.counts)  # as they stood when the counted frames began

    def emit(frames):
        nonlocal written, screens
        now = time.monotonic()
        for frame in frames:
            writer.write(frame)
            if frame.index >= warm:
                delays.append(now - frame.arrived)
                emitted.append(now)
                written += 1
                screens += frame.screened

    start = time.monotonic()
    index = 0
    while True:
        due = start + index / FPS
        if due - start >= warmup + seconds:
            break
        if index == warm:
            counts = copy.copy(redactor.counts)
        # Poll for ready frames until the next one is due, as a live worker would.
        while time.monotonic() < due:
            emit(redactor.poll())
            time.sleep(min(0.005, max(0.0, due - time.monotonic())))
        image = next(frames)
        # Stamped with when the camera sent it, not when this thread got to it: the delay counts from capture.
        emit(redactor.push(Frame(image, index, round(index / FPS * 90000), Fraction(1, 90000), due)))
        index += 1
    emit(redactor.flush())
    # Sustained output rate: frames out per second between the first and the last one out.
    elapsed = (emitted[-1] - emitted[0]) * written / max(1, written - 1) if written > 1 else float("inf")
    writer.close()
    end = redactor.counts
    results.append(
        {
            "written": written,
            "elapsed": elapsed,
            "delays": delays,
            "screened": screens,
            "detections": end.detections - counts.detections,
            "motion": end.motion_detections - counts.motion_detections,
            "why": [end.unvouched - counts.unvouched, end.late - counts.late, end.failed - counts.failed],
            "repeated": end.repeated - counts.repeated,
        }
    )


class _TimedDetectors:
    """The real detectors, adding up the CPU time their worker threads spend."""

    def __init__(self, inner, spent: list[float]) -> None:
        self._inner, self._spent = inner, spent

    def detect(self, *args, **kwargs):
        started = time.thread_time()
        try:
            return self._inner.detect(*args, **kwargs)
        finally:
            self._spent.append(time.thread_time() - started)

    def tile_lines(self, *args):
        started = time.thread_time()
        try:
            return self._inner.tile_lines(*args)
        finally:
            self._spent.append(time.thread_time() - started)


def run_once(
    cameras: int,
    seconds: float,
    workers: int,
    detect_every: int | None = None,
    viewing: bool = False,
    size: tuple[int, int] = (640, 480),
    first: int = 0,
    ready=None,
    warmup: float = 0.0,
) -> dict:
    """One process's run of `cameras` cameras (beds first .. first+cameras-1): raw sums, see `summary`."""
    from cradle.media.redact.pool import default_detectors

    policy = CameraPolicy(detect_every=detect_every) if detect_every else CameraPolicy()
    spent: list[float] = []
    build = default_detectors()
    pool = DetectorPool(lambda: _TimedDetectors(build(), spent), workers=workers, backlog=4 * workers)
    warm = SimCamera(SimSettings(width=size[0], height=size[1])).frame(0).image
    for _ in range(workers * 2):
        pool.submit(warm).result()
    spent.clear()
    recordings = [_recording(bed(n, *size), round((warmup + seconds) * FPS) + 1) for n in range(first, first + cameras)]
    if ready is not None:
        ready()  # processes side by side start their clocks together, once every one has rendered and warmed up
    baseline = _rss_mb()
    results: list = []
    with tempfile.TemporaryDirectory() as folder:
        threads = [
            threading.Thread(
                target=_camera,
                args=(n, pool, policy, seconds, Path(folder), results, viewing, size, recordings[n], warmup),
            )
            for n in range(cameras)
        ]
        for thread in threads:
            thread.start()
        time.sleep(warmup)  # CPU is counted from the end of the cameras' start, as their frames are
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        wall_before = time.monotonic()
        spent_before = sum(spent)
        peak = baseline
        while any(t.is_alive() for t in threads):
            peak = max(peak, _rss_mb())
            time.sleep(0.1)
    pool.close(wait=True)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "cameras": cameras,
        "seconds": seconds,
        "wall": time.monotonic() - wall_before,
        "cpu": cpu,
        "detect_cpu": sum(spent) - spent_before,
        "rates": [r["written"] / r["elapsed"] for r in results],
        "delays": sorted(d for r in results for d in r["delays"]),
        "written": sum(r["written"] for r in results),
        "screened": sum(r["screened"] for r in results),
        "repeated": sum(r["repeated"] for r in results),
        "detections": sum(r["detections"] for r in results),
        "motion": sum(r["motion"] for r in results),
        "why": [sum(r["why"][k] for r in results) for k in range(3)],
        "grown_mb": peak - baseline,
        "rss_peak": max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _workers_take(parts: list[dict], size: tuple[int, int]) -> int:
    """The cameras these processes would take as workers measuring their own capacity (cradle.worker.capacity):
    each, its share of the cores at CPU_BUDGET over its CPU per camera-second redacted (repeats and screens not
    counted)."""
    from cradle.worker.capacity import CPU_BUDGET as WORKER_BUDGET
    from cradle.worker.capacity import camera_units, worker_cores

    units = camera_units(*size, FPS)
    take = 0
    for p in parts:
        redacted = (p["written"] - p["screened"] - p["repeated"]) / FPS * units
        cost = p["cpu"] / redacted if redacted > 0 else float("inf")
        take += max(1, int(worker_cores(len(parts)) * WORKER_BUDGET / cost / units + 1e-9))
    return take


def summary(parts: list[dict], size: tuple[int, int] = (640, 480)) -> dict:
    """The figures of one row from the runs of every process (one, or several run side by side)."""
    cameras = sum(p["cameras"] for p in parts)
    seconds = parts[0]["seconds"]
    wall = max(p["wall"] for p in parts)
    written = max(1, sum(p["written"] for p in parts))
    rates = [rate for p in parts for rate in p["rates"]]
    delays = sorted(d for p in parts for d in p["delays"])
    cpu, detect_cpu = sum(p["cpu"] for p in parts), sum(p["detect_cpu"] for p in parts)
    camera_seconds = cameras * seconds
    return {
        "cameras": cameras,
        "fps": statistics.mean(rates),
        "min_fps": min(rates),
        "p95_delay": delays[int(0.95 * (len(delays) - 1))],
        "screened": sum(p["screened"] for p in parts) / written,
        "detections_per_s": sum(p["detections"] for p in parts) / seconds,
        "motion_share": sum(p["motion"] for p in parts) / max(1, sum(p["detections"] for p in parts)),
        "mem_per_camera": sum(p["grown_mb"] for p in parts) / cameras,
        "why": [sum(p["why"][k] for p in parts) for k in range(3)],
        "rss_peak": sum(p["rss_peak"] for p in parts),
        "cores": cpu / wall,
        "detect_cores": detect_cpu / wall,
        "repeated": sum(p["repeated"] for p in parts) / written,
        # Process CPU (all threads) per second of one camera's video: what the machine's load barely changes.
        "cpu_per_camera_s": cpu / camera_seconds,
        "detect_per_camera_s": detect_cpu / camera_seconds,
        "workers_take": _workers_take(parts, size),
    }


def stage_table(size: tuple[int, int], frames: int = 45) -> list[tuple[str, float, str]]:
    """CPU per frame of each stage for one camera, measured serially on this thread: (stage, ms, note)."""
    from cradle.media.fingerprint import fingerprint_segment
    from cradle.media.hls import (
        HLS_X264,
        REFERENCE_X264,
        decode,
        encode_ts,
        marked_pair,
        reference_planes,
        reference_size,
    )
    from cradle.media.mark import ALPHA, SegmentMark, unit_bounds
    from cradle.media.redact import masks
    from cradle.media.redact.likeness import text_like
    from cradle.media.redact.motion import MotionGrid
    from cradle.media.redact.pool import default_detectors
    from cradle.media.store import LocalDisk, MasterKey, SegmentStore

    width, height = size
    camera = SimCamera(SimSettings(seed=5, width=width, height=height))
    policy = CameraPolicy()
    rows: list[tuple[str, float, str]] = []

    def timed(label: str, work, count: int, note: str = "") -> list:
        started = time.thread_time()
        out = [work(i) for i in range(count)]
        rows.append((label, 1000 * (time.thread_time() - started) / count, note))
        return out

    timed("render (simulated camera; not counted)", lambda i: camera.frame(i).image, frames, "a real camera: decode")
    recording = _recording(camera.settings, frames)
    decoder = _decoded(recording)
    # Decoding may use threads of its own: process CPU, measured while nothing else runs.
    started = time.process_time()
    images = [next(decoder) for _ in range(frames)]
    rows.append(("decode (PyAV H.264, as the source)", 1000 * (time.process_time() - started) / frames, ""))
    grid = MotionGrid(width, height)
    grid.settle(grid.thumbnail(images[0]))
    # The redactor as the live path runs it on this moving scene, detections apart (they run in the pool's threads):
    # motion, which look vouches for each cell, the release rules and the masks.
    with DetectorPool(workers=2) as pool:
        redactor = Redactor(policy, pool, fps=FPS, blocking=True)
        started = time.thread_time()
        for i, image in enumerate(images):
            redactor.push(Frame(image, i, round(i / FPS * 90000), Fraction(1, 90000), time.monotonic()))
        redactor.flush()
        rows.append(
            (
                "redactor (motion, looks, release, masks)",
                1000 * (time.thread_time() - started) / frames,
                "a moving scene; detections apart",
            )
        )
    timed("  of which motion (thumbnail + cells)", lambda i: grid.changed(grid.thumbnail(images[i])), frames)
    from cradle.media.redact.monitors import find_monitors

    thumbs = [grid.thumbnail(image) for image in images]
    timed("  of which monitor screens (thumbnail)", lambda i: find_monitors(thumbs[i], width, height), frames)
    detectors = default_detectors()()
    detectors.detect(images[0], False)  # warm
    found = timed(
        "detection, whole frame, native (per look)", lambda i: detectors.detect(images[i], False, 0, None, True), 3
    )
    refresh = policy.refresh_side
    timed(
        f"detection, background refresh at {refresh} px",
        lambda i: detectors.detect(images[i], False, refresh, None, True),
        3,
        "every detect_every frames",
    )
    crop = (width // 4, height // 4, width // 4 + 160, height // 4 + 160)
    timed("detection, 160 px crop (per look)", lambda i: detectors.detect(images[i], False, 0, crop, True), 5)
    timed("  of which text-likeness, whole frame", lambda i: text_like(images[i]), 3)
    regions = found[0]

    grown = [masks.grow(r, policy, cv2.cvtColor(images[0], cv2.COLOR_BGR2GRAY)) for r in regions]

    coverages = timed("  of which coverage, looks changed", lambda i: masks.coverage((height, width), policy, grown), 5)
    covered = coverages[0]
    # As the live path on a quiet picture: the same looks' regions (grown once) frame after frame, so the last
    # frame's coverage stands and only the fill is done (cradle.media.redact.release).
    safe = timed("  of which masks (quiet: coverage stands)", lambda i: masks.apply(images[i], covered, policy), frames)
    key = b"bench-mark-key-0123456789abcdef"
    bounds = [(s + first, s + end) for s in range(0, frames, round(FPS)) for first, end in unit_bounds(round(FPS), 2)]
    units = {first: SegmentMark(key, "0", first, end - first, width, height, ALPHA, 0) for first, end in bounds}
    starts = {i: first for first, end in bounds for i in range(first, end)}

    def marked(i: int):
        # As SegmentWriter: one SegmentMark per mark unit (made at the unit's first frame), I420 once, both variants.
        first = starts[i]
        if i == first:
            units[first] = SegmentMark(key, "0", first, len(units[first].weights), width, height, ALPHA, 0)
        return marked_pair(safe[i], units[first], i - first)

    pairs = timed("I420 + marks (A and B)", marked, frames, "per unit: pattern; per frame: convert, mark")
    small = reference_size(width, height)
    refs = timed("reference (half size, I420)", lambda i: reference_planes(safe[i], small), frames)
    pts = [round(i / FPS * 90000) for i in range(frames)]
    fps = Fraction(FPS).limit_denominator(1001)
    encoded = {}
    for label, options, source, dims in (
        ("encode A", HLS_X264, [p[0] for p in pairs], (width, height)),
        ("encode B", HLS_X264, [p[1] for p in pairs], (width, height)),
        ("encode reference (half size)", REFERENCE_X264, refs, small),
    ):
        # One x264 instance per mark unit for A and B (each its own GOP), one per second for the reference.
        cuts = (
            bounds
            if label != "encode reference (half size)"
            else [(s, s + round(FPS)) for s in range(0, frames, round(FPS))]
        )
        started = time.thread_time()
        encoded[label] = b"".join(
            encode_ts(source[first:end], pts[first:end], *dims, fps, options) for first, end in cuts
        )
        rows.append((label, 1000 * (time.thread_time() - started) / frames, f"x264 {X264_PRESET}, {X264_PARAMS}"))
    started = time.thread_time()
    fingerprint_segment(decode(encoded["encode reference (half size)"]))
    rows.append(("fingerprint (worker, per segment)", 1000 * (time.thread_time() - started) / frames, ""))
    with tempfile.TemporaryDirectory() as folder:
        store = SegmentStore(LocalDisk(Path(folder) / "media"), MasterKey.create(Path(folder) / "master.key"))
        store.admit("bench")
        started = time.thread_time()
        for n in range(3):
            for label, data in encoded.items():
                store.put("bench", "cam", n, label[7], data)
        rows.append(("sealing (AES-GCM, 3 objects)", 1000 * (time.thread_time() - started) / (3 * frames), ""))
    return rows


def _side_by_side(cameras: int, args: argparse.Namespace, size: tuple[int, int]) -> list[dict]:
    """Runs `cameras` cameras split over args.processes processes at once; each process's raw sums."""
    processes = max(1, min(args.processes, cameras))
    shares = [cameras // processes + (i < cameras % processes) for i in range(processes)]
    runs, first = [], 0
    for share in shares:
        command = [sys.executable, __file__, "--one", str(share), "--first", str(first), "--seconds", str(args.seconds)]
        command += ["--warmup", str(args.warmup)]
        command += ["--workers", str(args.workers), "--size", f"{size[0]}x{size[1]}"]
        command += (["--detect-every", str(args.detect_every)] if args.detect_every else []) + (
            ["--viewing"] if args.viewing else []
        )
        runs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        first += share
    for run in runs:  # every process set up ...
        assert run.stdout is not None
        if run.stdout.readline().strip() != "ready":
            raise SystemExit("a camera process failed while setting up")
    for run in runs:  # ... then all start at once
        assert run.stdin is not None
        run.stdin.write("go\n")
        run.stdin.flush()
    parts = []
    for run in runs:
        out, _ = run.communicate()
        if run.returncode:
            raise SystemExit(f"a camera process failed (exit {run.returncode})")
        parts.append(json.loads(out.strip().splitlines()[-1]))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", default="1,2,4,6,8")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds counted, after the warm-up")
    parser.add_argument(
        "--warmup",
        type=float,
        default=8.0,
        help="seconds each camera runs before its frames and the CPU are counted: its first whole look at native "
        "resolution and the frame rate settling after it (a camera starts once, then runs for hours)",
    )
    parser.add_argument("--workers", type=int, default=2, help="detector threads shared by all cameras")
    parser.add_argument("--detect-every", type=int, help="whole-frame safety schedule in frames (default: policy)")
    parser.add_argument(
        "--viewing", action="store_true", help="marks, A+B+reference encodes and sealed storage, as the live worker"
    )
    parser.add_argument("--size", default="640x480", help="camera resolution, WIDTHxHEIGHT")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage CPU tables")
    parser.add_argument(
        "--sustained-beds", default="0,1", help="beds whose sustained CPU per camera-second is measured, e.g. 0,1,2,3"
    )
    parser.add_argument(
        "--sustained-seconds",
        type=float,
        default=10.0,
        help="seconds of each of those beds counted, after --warmup (0: skip)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes side by side, the cameras split evenly between them (as CRADLE_WORKER_PROCESSES); "
        "each has its own --workers detector threads",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.one:

        def ready() -> None:
            print("ready", flush=True)
            sys.stdin.readline()

        out = run_once(
            args.one, args.seconds, args.workers, args.detect_every, args.viewing, size, args.first, ready, args.warmup
        )
        print(json.dumps(out))
        return
    policy = CameraPolicy(detect_every=args.detect_every) if args.detect_every else CameraPolicy()
    hold = policy.hold_frames / FPS
    print(f"machine: {_machine()}; load average {_loadavg()}")
    if not args.no_stages:
        rows = stage_table(size)
        per_frame = [ms for label, ms, _ in rows if not label.startswith(("detection", "  ", "render"))]
        print(f"per-stage CPU of one {args.size} camera, ms per frame (one thread; detection per look):")
        for label, ms, note in rows:
            counted = not label.startswith(("detection", "  ", "render"))
            share = f"{100 * ms * FPS / 1000:5.1f} % of a core" if counted else ""
            print(f"  {label:40} {ms:8.2f} ms  {share:18} {note}")
        print(f"  {'all but detection, per camera':40} {sum(per_frame):8.2f} ms  "
              f"{100 * sum(per_frame) * FPS / 1000:5.1f} % of a core at {FPS:g} fps")  # fmt: skip
        refresh = next(ms for label, ms, _ in rows if label.startswith("detection, background"))
        quiet = (sum(per_frame) + refresh / policy.detect_every) * FPS / 1000
        cores = os.cpu_count() or 1
        print(
            f"  quiet camera (no motion: the safety schedule's look only): {quiet:.3f} CPU-s per camera-second; "
            f"projected {cores} cores x {CPU_BUDGET:g} / that = {cores * CPU_BUDGET / quiet:.1f} cameras"
        )
    if not args.no_stages and args.sustained_seconds > 0:
        beds = [int(b) for b in args.sustained_beds.split(",")]
        costs = sustained(size, beds, args.sustained_seconds, args.warmup)
        total = sum(costs.values())
        print(
            f"sustained CPU of one {args.size} camera that keeps up (beds {args.sustained_beds}, "
            f"{args.sustained_seconds:g} s each after {args.warmup:g} s; every frame redacted, marked, encoded and "
            f"sealed), CPU-s per camera-second; load average {_loadavg()}:"
        )
        for stage, cost in costs.items():
            print(f"  {stage:48} {cost:6.3f}  {100 * cost / total:5.1f} %")
        cores = os.cpu_count() or 1
        print(
            f"  {'all':48} {total:6.3f}  projected {cores} cores x {CPU_BUDGET:g} / that = "
            f"{cores * CPU_BUDGET / total:.1f} cameras"
        )
    print(
        f"{args.size}@{FPS:g} fps simulated cameras, {args.seconds:g} s counted after {args.warmup:g} s of warm-up; "
        "whole-frame text detection every "
        f"{policy.detect_every} frames (staggered) + crops where cells moved, look-ahead {policy.lookahead} frames, "
        f"hold window {policy.hold_frames} frames = {hold * 1000:.0f} ms, {args.processes} worker process(es) "
        f"with {args.workers} detector threads each, "
        + (
            f"marks + x264 {X264_PRESET} A, B and half-size reference per 1 s segment, sealed (AES-GCM) to disk"
            if args.viewing
            else f"x264 {X264_PRESET} per camera"
        )
    )
    print(
        "cams  fps/cam  min fps  p95 delay  screened (no det/late/failed)  repeats  det/s  crops  cores (det)"
        "  CPU-s/cam-s (det)  projected  workers take  MB/cam(+)  RSS MB  real time  load before / after"
    )
    best = 0
    for n in [int(x) for x in args.cameras.split(",")]:
        before = _loadavg()
        r = summary(_side_by_side(n, args, size), size)
        ok = r["min_fps"] >= 0.97 * FPS and r["p95_delay"] <= hold and r["screened"] <= 0.01 and not r["repeated"]
        best = n if ok and n > best else best
        print(
            f"{n:4d}  {r['fps']:7.2f}  {r['min_fps']:7.2f}  {r['p95_delay'] * 1000:6.0f} ms  "
            f"{100 * r['screened']:6.1f} % ({'/'.join(str(k) for k in r['why']):>14})    "
            f"{100 * r['repeated']:5.1f} %  {r['detections_per_s']:5.1f}  {100 * r['motion_share']:4.0f} %  "
            f"{r['cores']:4.2f} ({r['detect_cores']:4.2f})  "
            f"{r['cpu_per_camera_s']:6.3f} ({r['detect_per_camera_s']:5.3f})  "
            f"{(os.cpu_count() or 1) * CPU_BUDGET / r['cpu_per_camera_s']:9.1f}  {r['workers_take']:12d}  "
            f"{r['mem_per_camera']:9.1f}  {r['rss_peak']:6.0f}  {'yes' if ok else 'no ':9}  {before} / {_loadavg()}"
        )
    print(
        f"largest N holding {FPS:g} fps (no repeated frames) with p95 delay from capture inside the hold window and "
        f"<=1 % privacy screens: {best}"
    )
    print("(MB/cam(+) is peak RSS growth over a warmed detector pool, divided by cameras; RSS MB is the whole process;")
    print(" crops is the share of detections run on moved regions rather than the whole frame; cores is the process's")
    print(" CPU time over the run's length, (det) the detector threads' share of it; load is /proc/loadavg;")
    print(" CPU-s/cam-s is the process's CPU time per second of one camera's video (H.264 decoding included),")
    print(f" projected = {os.cpu_count() or 1} cores x {CPU_BUDGET:g} / CPU-s/cam-s: the cameras the CPU could hold,")
    print(" which a loaded machine barely changes; 'real time' needs a quiet machine;")
    print(" workers take = the cameras these processes would take as workers measuring their own capacity: each its")
    print(" share of the cores x 0.8 / its CPU per camera-second redacted, repeats and screens not counted)")


if __name__ == "__main__":
    main()
