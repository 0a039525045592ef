"""Collusion: two or three accounts whose copies were interleaved or averaged are named as a set, each member on
evidence of their own; an innocent is never in the set, and one leaker alone is never made a set."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.mark import Variant
from cradle.media.trace import SegmentReading, attribute
from cradle.media.trace.collusion import find_colluders

pytestmark = pytest.mark.nodb

ACCOUNTS = 10


def _codewords(rng, seconds: int) -> dict:
    return {
        f"s{i}": {("cam", j): tuple(Variant(int(rng.integers(2))) for _ in range(2)) for j in range(seconds)}
        for i in range(ACCOUNTS)
    }


def _copy(codewords: dict, leakers: list[str], seconds: int, mode: str, rng) -> list[SegmentReading]:
    """Readings of a copy made from the leakers' copies: each second from one of them in turn, or all averaged (a
    unit where they differ keeps a fraction of the mark, read as an erasure below |z| 4)."""
    readings = []
    for j in range(seconds):
        for unit in range(2):
            if mode == "interleave":
                signs = [1.0 if codewords[leakers[j % len(leakers)]][("cam", j)][unit] is Variant.A else -1.0]
            elif mode == "average":
                signs = [1.0 if codewords[a][("cam", j)][unit] is Variant.A else -1.0 for a in leakers]
            else:
                signs = [float(rng.choice([-1.0, 1.0]))]
            readings.append(SegmentReading("cam", j, 9.0 * float(np.mean(signs)), float(j), 1.0, unit, 2))
    return readings


@pytest.mark.parametrize(("mode", "size", "seconds"), [("interleave", 2, 60), ("average", 2, 30), ("average", 3, 60)])
def test_colluders_are_named_as_a_set(mode, size, seconds):
    rng = np.random.default_rng(size * 100 + seconds)
    named = 0
    for _ in range(10):
        codewords = _codewords(rng, seconds)
        leakers = [f"s{i}" for i in rng.choice(ACCOUNTS, size, replace=False)]
        readings = _copy(codewords, leakers, seconds, mode, rng)
        verdict = attribute(readings, codewords)
        assert verdict.outcome != "identified" or verdict.candidate in leakers  # a long interleave names one alone
        found = find_colluders(readings, codewords)
        if found is not None:
            assert set(found.accounts) <= set(leakers), "an innocent in the set"
            assert found.probability < 1e-4
            named += set(found.accounts) == set(leakers)
    assert named >= 8


def test_a_short_collusion_names_no_set_rather_than_guess():
    rng = np.random.default_rng(4)
    codewords = _codewords(rng, 8)
    readings = _copy(codewords, ["s1", "s2"], 8, "interleave", rng)
    assert find_colluders(readings, codewords) is None


def test_bits_nobody_received_and_a_lone_leaker_make_no_set():
    rng = np.random.default_rng(5)
    for _ in range(200):
        codewords = _codewords(rng, 20)
        assert find_colluders(_copy(codewords, [], 20, "noise", rng), codewords) is None
    for _ in range(20):
        codewords = _codewords(rng, 20)
        readings = _copy(codewords, ["s3"], 20, "interleave", rng)
        assert attribute(readings, codewords).candidate == "s3"
        assert find_colluders(readings, codewords) is None
