"""Print how often colluding sets are named from synthetic readings, and that innocents never are.

Each trial gives ten accounts random variants, makes the readings of a copy built from two or three of them (segments
interleaved in turn, or frames averaged, so a unit reads at the mean of their signs times a clear unit's strength, plus
the detector's noise), and asks cradle.media.trace.collusion for a set; then asks again with the colluders' accounts
replaced by innocents'. This isolates the naming from the picture: bench/trace.py measures it on rendered copies.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from cradle.media.mark import Variant
from cradle.media.trace import SegmentReading
from cradle.media.trace.attribution import GRADED_P, IDENTIFY_P
from cradle.media.trace.collusion import find_colluders

ACCOUNTS = 10
WIDTHS = (9, 5, 8, 10, 5, 8)  # the columns of the sets named, then graded


def _codewords(rng: np.random.Generator, seconds: int, prefix: str = "s") -> dict:
    return {
        f"{prefix}{i}": {("cam", j): tuple(Variant(int(rng.integers(2))) for _ in range(2)) for j in range(seconds)}
        for i in range(ACCOUNTS)
    }


def _readings(codewords, leakers, seconds, mode, period, full, noise, rng) -> list[SegmentReading]:
    readings = []
    for j in range(seconds):
        for unit in range(2):
            shown = [leakers[(j // period) % len(leakers)]] if mode == "interleave" else leakers
            signs = [1.0 if codewords[a][("cam", j)][unit] is Variant.A else -1.0 for a in shown]
            z = full * float(np.mean(signs)) + float(rng.normal(0, noise))
            readings.append(SegmentReading("cam", j, z, float(j), 1.0, unit, 2))
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1_000_000, help="below 1,000,000 for tuning")
    parser.add_argument("--full", type=float, default=12.0, help="z of a clear unit")
    parser.add_argument("--noise", type=float, default=1.5, help="the detector's noise on z")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.trials} trials per row, seed {args.seed}, clear unit z {args.full}, noise {args.noise}")
    print(f'graded: a set below {GRADED_P:.3g} but not below {IDENTIFY_P:g}, given as "consistent with"')
    head = f"{'mix':<10} {'size':>4} {'period':>6} {'seconds':>7} {'all named':>9} {'some':>5} {'innocent':>8}"
    print(f"{head} {'graded all':>10} {'some':>5} {'innocent':>8}")
    innocent_sets = innocent_graded = 0
    for mode, period in (("average", 1), ("interleave", 1), ("interleave", 3)):
        for size in (2, 3):
            for seconds in (15, 30, 60):
                counts = dict.fromkeys((True, False), (0, 0, 0))
                for _ in range(args.trials):
                    codewords = _codewords(rng, seconds)
                    leakers = [f"s{i}" for i in rng.choice(ACCOUNTS, size, replace=False)]
                    readings = _readings(codewords, leakers, seconds, mode, period, args.full, args.noise, rng)
                    found = find_colluders(readings, codewords, graded_below=GRADED_P)
                    if found is not None:
                        named, some, innocent = counts[found.identified]
                        named += set(found.accounts) == set(leakers)
                        some += set(found.accounts) < set(leakers)
                        innocent += bool(set(found.accounts) - set(leakers))
                        counts[found.identified] = (named, some, innocent)
                    alone = find_colluders(readings, _codewords(rng, seconds, "i"), graded_below=GRADED_P)
                    innocent_sets += alone is not None and alone.identified
                    innocent_graded += alone is not None and not alone.identified
                shown = " ".join(f"{v:>{w}}" for v, w in zip((*counts[True], *counts[False]), WIDTHS, strict=True))
                print(f"{mode:<10} {size:>4} {period:>6} {seconds:>7} {shown}", flush=True)
    print(f"sets with only innocents' accounts to choose from: named {innocent_sets}, graded {innocent_graded}")


if __name__ == "__main__":
    main()
