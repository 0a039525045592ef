"""Print how the regional search separates an occluded copy's source from 10,000 stored look-alike scenes.

For each occlusion drill of bench/threat_model.py: the median over the suspect's windows of the best similarity to its
true source, globally (one thumbnail) and regionally (cradle.media.regions), and the best regional similarity of any
synthetic stored scene; then the same for footage that never came from Cradle, and the time one regional search takes.
The gap between the sources' lowest and the scenes' highest regional similarity is where REGIONAL_SIMILARITY sits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trace import drill, sources_of, synthetic_store

from threat_model import HELD_OUT, foreign_clip

from cradle.media import regions
from cradle.media.fingerprint import FingerprintIndex, fingerprint_segment, suspect_windows
from cradle.media.mark import ALPHA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", type=int, default=10, help="occlusion drills")
    parser.add_argument("--set", choices=("tune", "report"), default="report", help="tuning seeds or held-out seeds")
    parser.add_argument("--clips", type=int, default=10_000, help="synthetic clips of 30 segments in the store")
    parser.add_argument("--cache", help="a folder to keep the rendered clips in between runs")
    args = parser.parse_args()
    base = HELD_OUT if args.set == "report" else 0
    print(f"load average {os.getloadavg()[0]:.2f} at start; seed set {args.set} ({base}-{base + args.drills - 1})")
    sources, references = sources_of(ALPHA, args.cache)
    index = FingerprintIndex(args.clips * 30 + len(references))
    for (source, i), frames in references.items():
        index.add(source, i, fingerprint_segment(frames))
    synthetic_store(index, args.clips, 30, np.random.default_rng(7))
    began = time.perf_counter()
    stored = index._cell_rows()  # made once per index, on its first regional search
    print(f"store: {len(index):,} segments; their cells made in {time.perf_counter() - began:.1f} s")
    names = np.asarray(index._sources)[index._row_source[: len(index)]]
    synthetic = np.char.startswith(names, "synthetic")
    suspects = [drill("occlusion", base + n, sources) for n in range(args.drills)]
    cases = [(s[3].describe(), s[0], s[4], s[5]) for s in suspects]
    cases.append(("footage from elsewhere", "", foreign_clip(base, 450), 15.0))
    lowest, highest = 1.0, -1.0
    for described, source, suspect, fps in cases:
        windows, _ = suspect_windows(suspect, fps)
        windows = windows[:: max(1, len(windows) // 24)]
        cells = regions.cells(windows)
        regional = np.concatenate(
            [regions.scores(cells, stored[i : i + 65_536].astype(np.float32)) for i in range(0, len(index), 65_536)],
            axis=1,
        )
        plain = windows @ index._matrix[: len(index)].astype(np.float32).T
        scenes = float(np.median(regional[:, synthetic].max(axis=1)))
        highest = max(highest, float(regional[:, synthetic].max()))
        line = f"  {described[:58]:<58} scenes {scenes:.2f}"
        if source:
            true = names == source
            lowest = min(lowest, float(np.median(regional[:, true].max(axis=1))))
            line += f"  source: global {np.median(plain[:, true].max(axis=1)):.2f}"
            line += f" regional {np.median(regional[:, true].max(axis=1)):.2f}"
        print(line, flush=True)
    began = time.perf_counter()
    index.search(cases[0][2], cases[0][3], k=256, regional=True)
    print(f"sources' lowest regional similarity {lowest:.2f}; scenes' highest {highest:.2f}")
    print(f"one regional search: {time.perf_counter() - began:.1f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
