"""Print how well leak tracing names the leaker: leak drills with random transforms against 10,000 stored clips.

The store holds the fingerprints of a few real simulated clips (segmented, marked and encoded as the worker does) and of
10,000 synthetic clips of 30 segments whose thumbnails are smooth random scenes drifting slowly from second to second.
Each drill gives one of ten sessions its own random variants, builds that session's copy from the served segments,
transforms it as a leaker might (200-600 kbit/s, 240p-480p, 0-6 % crop, +-10 % brightness, 25 or 30 fps), keeps 15 s
from a random start, and traces it. Every tenth drill leaks the unmarked picture instead: nobody may be named.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from fractions import Fraction

import cv2
import numpy as np

from cradle.media.drill import leaked_copy
from cradle.media.fingerprint import _WEIGHTS, POSITIONS, THUMB_SIZE, FingerprintIndex, fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter, decode
from cradle.media.mark import ALPHA, Variant
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.trace import attribute, trace

KEY = bytes(range(32))
FPS = 15
CLIP_SECONDS = 16
SUSPECT_SECONDS = 15
SESSIONS = 10
SEEDS = (21, 34)


def render(seed: int, alpha: float = ALPHA) -> tuple[list, list[list[np.ndarray]]]:
    """Segments of one simulated clip and the unmarked frames per segment."""
    camera = SimCamera(SimSettings(bed=f"bed-{seed}", lang="en", seed=seed, fps=FPS))
    writer = SegmentWriter(KEY, f"clip-{seed}", 640, 480, FPS, alpha=alpha)
    made, plain = [], []
    for i in range(CLIP_SECONDS * FPS):
        image = camera.frame(i).image
        plain.append(image)
        made += writer.write(SafeFrame(image, i, i * 6000, Fraction(1, 90000), 0.0, False))
    made += writer.close()
    return made, [plain[s * FPS : (s + 1) * FPS] for s in range(len(made))]


def synthetic_store(index: FingerprintIndex, clips: int, segments: int, rng: np.random.Generator) -> None:
    """Fingerprints of `clips` made-up scenes: smooth random pictures that drift a little from segment to segment."""
    width, height = THUMB_SIZE
    up_y = cv2.resize(np.eye(3, dtype=np.float32), (3, height), interpolation=cv2.INTER_LINEAR)
    up_x = cv2.resize(np.eye(4, dtype=np.float32), (width, 4), interpolation=cv2.INTER_LINEAR)
    for first in range(0, clips, 500):
        count = min(500, clips - first)
        coarse = rng.normal(size=(count, 3, 4)).astype(np.float32)
        fine = rng.normal(scale=0.35, size=(count, height, width)).astype(np.float32)
        scene = np.einsum("yi,nij,jx->nyx", up_y, coarse, up_x) + fine
        drift = rng.normal(scale=0.15, size=(count, segments, len(POSITIONS), height, width)).astype(np.float32)
        thumbs = (scene[:, None, None] + drift).reshape(count, segments, len(POSITIONS), -1)
        thumbs -= thumbs.mean(axis=-1, keepdims=True)
        thumbs *= _WEIGHTS
        thumbs /= np.linalg.norm(thumbs, axis=-1, keepdims=True)
        vectors = (thumbs.reshape(count, segments, -1) / np.sqrt(len(POSITIONS))).astype(np.float16)
        for n in range(count):
            for s in range(segments):
                index.add(f"synthetic-{first + n}", s, vectors[n, s])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", type=int, default=40, help="leak drills to run (the target figure needs 200)")
    parser.add_argument("--clips", type=int, default=10_000, help="synthetic clips of 30 segments in the store")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--alpha", type=float, default=ALPHA, help="the mark's strength in luma levels")
    parser.add_argument("--only", type=str, default="", help="comma-separated drill numbers to run (the same draws)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    only = {int(n) for n in args.only.split(",") if n.strip()}
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

    started = time.perf_counter()
    sources = {}
    for seed in SEEDS:
        made, plain = render(seed, args.alpha)
        sources[f"clip-{seed}"] = {
            "references": {s.index: decode(s.reference) for s in made},
            "variants": {s.index: (decode(s.a), decode(s.b)) for s in made},
            "plain": plain,
        }
    references = {(source, i): frames for source, data in sources.items() for i, frames in data["references"].items()}
    index = FingerprintIndex(args.clips * 30 + len(references))
    for (source, i), frames in references.items():
        index.add(source, i, fingerprint_segment(frames))
    synthetic_store(index, args.clips, 30, rng)
    print(
        f"store: {len(index):,} segment fingerprints ({len(index) * index._matrix.shape[1] * 2 / 1e6:.0f} MB float16),"
        f" built in {time.perf_counter() - started:.1f} s"
    )

    def loader(source: str, i: int) -> list[np.ndarray]:
        return references[(source, i)]

    outcomes: dict[str, int] = defaultdict(int)
    searches, reads, weakest = [], [], []
    by_kind: dict[str, list[bool]] = defaultdict(list)
    drills_started = time.perf_counter()
    for drill in range(args.drills):
        control = drill % 10 == 9
        source = list(sources)[drill % len(sources)]
        data = sources[source]
        codewords = {
            f"session-{n}": {(source, i): Variant(int(rng.integers(2))) for i in data["variants"]}
            for n in range(SESSIONS)
        }
        leaker = f"session-{int(rng.integers(SESSIONS))}"
        if control:
            served = [image for segment in data["plain"] for image in segment]
        else:
            served = [
                image
                for i in sorted(data["variants"])
                for image in data["variants"][i][int(codewords[leaker][(source, i)])]
            ]
        height = int(rng.integers(120, 241)) * 2
        width = round(height * 4 / 3 / 2) * 2
        bitrate = int(rng.integers(200, 601)) * 1000
        crop = float(rng.uniform(0, 0.06))
        gain = float(rng.uniform(0.9, 1.1))
        fps = int(rng.choice([25, 30]))
        start = int(rng.integers(0, FPS))
        if only and drill not in only:
            continue
        copy = leaked_copy(served[start : start + SUSPECT_SECONDS * FPS], FPS, width, height, bitrate, crop, fps, gain)
        transform = f"{height}p {bitrate // 1000}k crop {crop:.1%} gain {gain:.2f} {fps} fps"

        began = time.perf_counter()
        matches = index.search(copy, fps)
        searched = time.perf_counter()
        alignment, readings = trace(copy, fps, index, loader, KEY, matches=matches)
        done = time.perf_counter()
        searches.append(searched - began)
        reads.append(done - searched)
        verdict = attribute(readings, codewords) if alignment else None

        if alignment is None or alignment.source_id != source:
            result = "no source" if alignment is None else "wrong source"
        elif verdict.outcome == "identified":
            result = "identified" if verdict.candidate == leaker and not control else "FALSE ACCUSATION"
        else:
            result = "inconclusive"
        outcomes[("control " if control else "") + result] += 1
        if only or result not in ("identified", "no source") or (not control and result != "identified"):
            why = verdict.reason if verdict else "no source found"
            z_line = " ".join(f"{r.z:+.1f}" for r in readings)
            print(f"  drill {drill}: {'control ' if control else ''}{result}: {transform}: {why}; z {z_line}")
        if not control:
            by_kind[f"{fps} fps"].append(result == "identified")
            by_kind[f"{'<=300k' if bitrate <= 300_000 else '>300k'}"].append(result == "identified")
            by_kind[f"{'<=320p' if height <= 320 else '>320p'}"].append(result == "identified")
            z = sorted(abs(r.z) for r in readings)
            median = statistics.median(z) if z else 0.0
            weakest.append((median, transform, result, sum(r.variant is not None for r in readings), len(readings)))
        if (drill + 1) % 10 == 0:
            print(f"  {drill + 1} drills, {time.perf_counter() - drills_started:.0f} s")

    leaks = args.drills - args.drills // 10
    identified = outcomes["identified"]
    print(f"drills: {args.drills} ({leaks} marked leaks, {args.drills // 10} unmarked controls)")
    print(f"identified: {identified}/{leaks} = {identified / max(1, leaks):.1%}")
    print(f"false accusations: {outcomes.get('FALSE ACCUSATION', 0) + outcomes.get('control FALSE ACCUSATION', 0)}")
    print(
        f"inconclusive: {outcomes['inconclusive']}, source not found: {outcomes['no source']},"
        f" wrong source: {outcomes['wrong source']}"
    )
    controls = {k.removeprefix("control "): v for k, v in outcomes.items() if k.startswith("control ") and v}
    print(f"unmarked controls: {controls or 'none run'} (identified there would be a false accusation)")
    for kind, results in sorted(by_kind.items()):
        print(f"  {kind:>8}: {sum(results)}/{len(results)} identified")
    for median, transform, result, readable, total in sorted(weakest)[:3]:
        print(f"weakest: {transform}: median |z| {median:.1f}, {readable}/{total} segments readable, {result}")
    total = [s + r for s, r in zip(searches, reads, strict=True)]
    print(
        f"time per trace (15 s suspect, {len(index):,} segments): search {statistics.mean(searches):.2f} s mean,"
        f" {max(searches):.2f} s max; align + read {statistics.mean(reads):.2f} s mean;"
        f" total {statistics.mean(total):.2f} s mean, {max(total):.2f} s max"
    )
    per_drill = (time.perf_counter() - drills_started) / max(1, args.drills)
    print(f"{per_drill:.1f} s per drill with the leak's encoding; 200 drills would take {200 * per_drill / 60:.0f} min")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
