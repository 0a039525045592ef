"""Latency from a saved zone change to the picture families get: the time from the nurse's save until the first
stored segment whose picture carries the new shown area, plus the player's hold behind the newest segment.

The real media path runs: a simulated bed camera through the rapidocr DetectorPool, redaction, marking and the
encodes (CameraPipeline); the camera's settings file is rewritten as the zone editor saves it, and looked at as the
worker does (CameraRun._look_for_zones, every ZONES_CHECK_S from the pipeline's thread). A segment counts as changed
when its last frame is masked outside the new, small shown area (or no longer is, when the area opens again).

    .venv/bin/python bench/zone_latency.py [--trials 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from cradle.media.hls import decode
from cradle.media.live import CameraPipeline
from cradle.media.redact import DetectorPool, load_policy
from cradle.media.redact.pool import default_detectors

PLAYER_HOLD_S = 1.0  # cradle/static/cradle/player.js: liveSyncDuration
ZONES_CHECK_S = 0.2  # cradle.worker.camera_run.ZONES_CHECK_S (that module needs Django)
SMALL = [[0.45, 0.45], [0.55, 0.45], [0.55, 0.55], [0.45, 0.55]]
WHOLE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


def masked(segment) -> bool:
    frame = decode(segment.a)[-1].astype(int)
    return float((np.abs(frame - 48).max(axis=2) < 12).mean()) > 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--camera", default="sim://zone-bench?size=640x480&fps=15")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    path = folder / "1.json"
    path.write_text(json.dumps({"shown_area": WHOLE}))
    delivered: list[tuple[float, bool]] = []
    lock = threading.Lock()

    def sink(segment) -> None:
        with lock:
            delivered.append((time.monotonic(), masked(segment)))

    stop = threading.Event()
    seen = {"stamp": path.stat().st_mtime_ns, "at": 0.0}

    def look() -> None:  # what CameraRun._look_for_zones does
        now = time.monotonic()
        if now - seen["at"] < ZONES_CHECK_S:
            return
        seen["at"] = now
        stamp = path.stat().st_mtime_ns
        if stamp != seen["stamp"]:
            seen["stamp"] = stamp
            pipeline.set_policy(load_policy(path))

    with DetectorPool(default_detectors(), workers=2) as pool:
        pipeline = CameraPipeline(args.camera, "1", b"k" * 32, pool, sink, policy=load_policy(path), tick=look)
        runner = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
        runner.start()
        time.sleep(4)  # warm up: the detectors load, the first segments pass
        latencies = []
        for trial in range(args.trials):
            want = trial % 2 == 0  # alternately narrow the shown area and open it again
            # A random phase against the worker's round, as a nurse's save would have.
            time.sleep(np.random.default_rng(trial).uniform(0, 1.0))
            tmp = folder / ".1.json.tmp"
            tmp.write_text(json.dumps({"shown_area": SMALL if want else WHOLE}))
            saved = time.monotonic()
            os.replace(tmp, path)
            end = saved + 15
            while time.monotonic() < end:
                with lock:
                    hit = [t for t, m in delivered if t > saved and m == want]
                if hit:
                    latencies.append(hit[0] - saved)
                    break
                time.sleep(0.02)
            else:
                print(f"trial {trial}: no changed segment within 15 s")
            time.sleep(2)
        stop.set()
        runner.join(timeout=10)
    if latencies:
        stored = [round(x, 2) for x in latencies]
        print(f"save -> stored segment with the change: median {statistics.median(latencies):.2f} s, "
              f"max {max(latencies):.2f} s over {len(latencies)} trials {stored}")  # fmt: skip
        median, worst = statistics.median(latencies) + PLAYER_HOLD_S, max(latencies) + PLAYER_HOLD_S
        print(f"save -> family's picture (+{PLAYER_HOLD_S:.0f} s player hold): median {median:.2f} s, max {worst:.2f} s")  # noqa: E501


if __name__ == "__main__":
    main()
