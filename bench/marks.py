"""Print what the forensic mark costs and how well it reads back: PSNR, marking and encoding time, bit rate, the
store's cost per fetch, and detection z, for segments marked whole (one unit, as before) and in MARK_UNITS units."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests/

from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter, decode
from cradle.media.mark import MARK_UNITS, SegmentMark, Variant, Warp, detect, mark_segment, psnr, unit_bounds
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.store import LocalDisk, MasterKey, SegmentStore
from tests.drill import leaked_copy

FPS = 15
WIDTH, HEIGHT = 640, 480
KEY = bytes(range(32))


def _segments(camera: SimCamera, count: int) -> list[list[SafeFrame]]:
    return [
        [
            SafeFrame(camera.frame(i).image, i, i * 6000, Fraction(1, 90000), 0.0, False)
            for i in range(s * FPS, (s + 1) * FPS)
        ]
        for s in range(count)
    ]


def _pooled_psnr(marked: list[np.ndarray], original: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((m.astype(np.float64) - o) ** 2) for m, o in zip(marked, original, strict=True)])
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def bench_psnr(seconds: list[list[SafeFrame]]) -> None:
    print("PSNR against the unmarked frames (per segment pooled: mean; per frame: min)")
    for alpha in (0.5, 0.75, 1.0):
        pooled_bgr, frames_bgr, pooled_y, frames_y = [], [], [], []
        for index, second in enumerate(seconds):
            variant = Variant(index % 2)
            marked = [f.image for f in mark_segment(second, KEY, "cam-1", index, variant, alpha)]
            original = [f.image for f in second]
            pooled_bgr.append(_pooled_psnr(marked, original))
            frames_bgr += [psnr(m, o) for m, o in zip(marked, original, strict=True)]
            mark = SegmentMark(KEY, "cam-1", index, len(second), WIDTH, HEIGHT, alpha)
            planes = [cv2.cvtColor(o, cv2.COLOR_BGR2YUV_I420)[:HEIGHT] for o in original]
            marked_y = [mark.apply(p, i, variant) for i, p in enumerate(planes)]
            pooled_y.append(_pooled_psnr(marked_y, planes))
            frames_y += [psnr(m, p) for m, p in zip(marked_y, planes, strict=True)]
        print(
            f"  alpha {alpha:4.2f}: BGR {statistics.mean(pooled_bgr):5.1f} dB mean, {min(frames_bgr):5.1f} dB min;"
            f"  Y plane {statistics.mean(pooled_y):5.1f} dB mean, {min(frames_y):5.1f} dB min"
        )


def _per_frame_ms(action, repeats: int) -> float:
    action()
    start = time.perf_counter()
    for _ in range(repeats):
        action()
    return (time.perf_counter() - start) / repeats * 1000


def bench_marking(seconds: list[list[SafeFrame]]) -> None:
    second = seconds[0]
    image = second[FPS // 2].image
    per_segment = _per_frame_ms(lambda: mark_segment(second, KEY, "cam-1", 3, Variant.A), 20) / len(second)
    planes = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    mark = SegmentMark(KEY, "cam-1", 3, FPS, WIDTH, HEIGHT)
    y_only = _per_frame_ms(lambda: mark.apply(planes[:HEIGHT], FPS // 2, Variant.A), 500)
    convert = _per_frame_ms(lambda: cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), 500)
    setup = _per_frame_ms(lambda: SegmentMark(KEY, "cam-1", 3, FPS, WIDTH, HEIGHT), 50)
    print(f"Marking cost per {WIDTH}x{HEIGHT} frame (one variant)")
    print(f"  BGR, whole segment incl. pattern: {per_segment:.3f} ms/frame")
    print(f"  Y plane only:                     {y_only:.3f} ms/frame")
    print(f"  BGR->I420, shared by A and B:     {convert:.3f} ms/frame")
    print(f"  pattern and fade per segment:     {setup:.3f} ms")


def bench_encoding(seconds: list[list[SafeFrame]], units: int) -> list:
    writer = SegmentWriter(KEY, "cam-1", WIDTH, HEIGHT, FPS, units=units)
    made, timings, cpu = [], [], []
    for second in seconds:
        for frame in second[:-1]:
            writer.write(frame)
        start, start_cpu = time.perf_counter(), time.process_time()
        made += writer.write(second[-1])
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    sizes = [(len(s.a) + len(s.b)) / 2 for s in made]
    refs = [len(s.reference) for s in made]
    print(f"Encode per 1 s segment in {units} mark unit(s) (mark A and B, x264 every unit of both and the reference)")
    print(
        f"  wall {statistics.mean(timings) * 1000:.0f} ms mean, {max(timings) * 1000:.0f} ms max;"
        f" CPU {statistics.mean(cpu) * 1000:.0f} ms mean;"
        f" {statistics.mean(sizes) / 1024:.1f} KiB per viewer's segment, {statistics.mean(refs) / 1024:.0f} KiB"
        f" reference ({statistics.mean(sizes) * 8 / 1000:.0f} kbit/s to a viewer)"
    )
    return made


def bench_delivery(made: list, units: int, repeats: int = 200) -> None:
    """What a segment fetch costs the store: one sealed object, or one per unit joined."""
    with tempfile.TemporaryDirectory(prefix="cradle-bench-marks-") as folder:
        root = Path(folder)
        store = SegmentStore(
            LocalDisk(root / "media"), MasterKey.create(root / "master.key"), LocalDisk(root / "keys", scrub=True)
        )
        store.admit("adm")
        for segment in made:
            for name, data in segment.objects().items():
                store.put("adm", "cam", segment.index, name, data)
        choice = "AB"[:units] if units > 1 else "A"
        store.get("adm", "cam", made[0].index, choice)
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(repeats):
            store.get("adm", "cam", made[i % len(made)].index, choice)
        wall = (time.perf_counter() - start) / repeats * 1000
        cpu = (time.process_time() - start_cpu) / repeats * 1000
        objects = len(made[0].objects())
    print(
        f"  store fetch of a viewer's segment ({units} object(s) opened and joined): {wall:.2f} ms wall, {cpu:.2f}"
        f" ms CPU; {objects} objects stored per segment"
    )


def _undo_crop(crop: float, size: tuple[int, int], reference: tuple[int, int]) -> Warp:
    # Suspect pixel (u, v) shows full-frame point (dx + u * sx, dy + v * sy); the reference is the full frame scaled.
    dx, dy = round(WIDTH * crop / 2), round(HEIGHT * crop / 2)
    sx, sy = (WIDTH - 2 * dx) / size[0], (HEIGHT - 2 * dy) / size[1]
    kx, ky = reference[0] / WIDTH, reference[1] / HEIGHT
    return Warp(np.array([[sx * kx, 0, dx * kx], [0, sy * ky, dy * ky], [0, 0, 1]]))


def bench_detection(seconds: list[list[SafeFrame]], made: list, crop: float) -> None:
    units = len(made[0].units)
    print(
        f"Detection per mark unit ({units} per second) on 360p / 300 kbit/s re-encodes of the whole stretch with"
        f" {crop:.0%} crop, undone by the known transform"
    )
    right, wrong, erased, controls, timings = [], 0, 0, [], []
    plain = leaked_copy([f.image for second in seconds for f in second], FPS, 480, 360, 300_000, crop)
    for variant in (Variant.A, Variant.B):
        copy = leaked_copy([f for s in made for f in decode(s.variant(variant))], FPS, 480, 360, 300_000, crop)
        for number, segment in enumerate(made):
            reference = decode(segment.reference)
            registration = _undo_crop(crop, (480, 360), reference[0].shape[1::-1])
            for unit, (first, end) in enumerate(unit_bounds(len(reference), units)):
                label = None if units == 1 else unit
                part = slice(number * FPS + first, number * FPS + end)
                start = time.perf_counter()
                found = detect(copy[part], reference[first:end], KEY, "cam-1", segment.index, registration, label)
                timings.append(time.perf_counter() - start)
                if found.variant is None:
                    erased += 1
                elif found.variant is variant:
                    right.append(abs(found.z))
                else:
                    wrong += 1
                if variant is Variant.A:
                    control = detect(
                        plain[part], reference[first:end], KEY, "cam-1", segment.index, registration, label
                    )
                    controls.append(control.z)
    total = 2 * len(made) * units
    if right:
        print(
            f"  right variant {len(right)}/{total}, wrong {wrong}, erased {erased};"
            f" |z| min {min(right):.1f} median {statistics.median(right):.1f} max {max(right):.1f};"
            f" {len(right) / (2 * len(made)):.2f} readable bits per second"
        )
    else:
        print(f"  right variant 0/{total}, wrong {wrong}, erased {erased}")
    print(f"  unmarked control: |z| max {max(abs(z) for z in controls):.2f} over {len(controls)} units")
    print(f"  detection {statistics.mean(timings) * 1000:.0f} ms per unit (given aligned, registered frames)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="segments of simulated video to use")
    parser.add_argument("--crop", type=float, default=0.05, help="share of each side the leaker crops off")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    cv2.setNumThreads(1)
    seconds = _segments(SimCamera(SimSettings(lang="zh", seed=4)), args.seconds)
    bench_psnr(seconds)
    bench_marking(seconds)
    for units in (1, MARK_UNITS):
        made = bench_encoding(seconds, units)
        bench_delivery(made, units)
        bench_detection(seconds, made, args.crop)


if __name__ == "__main__":
    main()
