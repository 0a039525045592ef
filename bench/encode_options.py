"""Print what x264's options cost a viewer's stream: CPU per frame, bit rate and luma PSNR of veryfast as it comes
and of veryfast with Cradle's X264_PARAMS, on marked half-second units of simulated beds (as hls.SegmentWriter cuts
them). Pick seeds to tune on and others to report on."""

from __future__ import annotations

import argparse
import io
import time
from fractions import Fraction

import av
import numpy as np

from cradle.media.encode import X264_PARAMS
from cradle.media.hls import HLS_X264, encode_ts, marked_pair
from cradle.media.mark import MARK_UNITS, SegmentMark, psnr, unit_bounds
from cradle.media.sim import SimCamera, SimSettings

FPS = 15
KEY = bytes(range(32))
# What veryfast sets for the options X264_PARAMS changes.
VERYFAST = "subme=2:me=hex:partitions=p8x8,b8x8,i8x8,i4x4"


def _units(seed: int, width: int, height: int, seconds: int) -> list[tuple[list[np.ndarray], list[int]]]:
    camera = SimCamera(SimSettings(seed=seed, width=width, height=height))
    out = []
    for s in range(seconds):
        for unit, (first, end) in enumerate(unit_bounds(FPS, MARK_UNITS)):
            mark = SegmentMark(KEY, "cam", s, end - first, width, height, unit=unit)
            indexes = range(s * FPS + first, s * FPS + end)
            planes = [marked_pair(camera.frame(i).image, mark, i - s * FPS - first)[0] for i in indexes]
            out.append((planes, [i * 6000 for i in indexes]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--seeds", default="11,12")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="encodes of each unit, for steadier CPU figures")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    seeds = [int(s) for s in args.seeds.split(",")]
    units = [u for seed in seeds for u in _units(seed, width, height, args.seconds)]
    frames = sum(len(planes) for planes, _ in units)
    print(f"{args.size}, seeds {seeds}, {frames} frames in {len(units)} units; variant A, x264 one thread")
    for name, params in (("veryfast", VERYFAST), (f"veryfast + {X264_PARAMS}", X264_PARAMS)):
        options = {**HLS_X264, "x264-params": params}
        cpu, size, quality = 0.0, 0, []
        for repeat in range(args.repeats):
            for planes, pts in units:
                started = time.thread_time()
                data = encode_ts(planes, pts, width, height, Fraction(FPS), options)
                cpu += time.thread_time() - started
                if repeat == 0:
                    size += len(data)
                    quality += [psnr(y, p[:height]) for y, p in zip(_luma(data, height), planes, strict=True)]
        kbits = size * 8 / (frames / FPS) / 1000
        print(
            f"  {name:48} {1000 * cpu / (frames * args.repeats):6.2f} ms/frame  {kbits:6.0f} kbit/s  "
            f"Y PSNR {np.mean(quality):.2f} dB"
        )


def _luma(data: bytes, height: int) -> list[np.ndarray]:
    """The decoded Y planes, as the encoder got them (no colour conversion on the way)."""
    with av.open(io.BytesIO(data), mode="r", format="mpegts") as container:
        return [frame.to_ndarray(format="yuv420p")[:height] for frame in container.decode(video=0)]


if __name__ == "__main__":
    main()
