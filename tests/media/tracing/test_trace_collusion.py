"""Collusion: two or three accounts whose copies were interleaved or averaged are named as a set, each member on
evidence of their own; an innocent is never in the set, and one leaker alone is never made a set."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.mark import Variant
from cradle.media.trace import SegmentReading, attribute
from cradle.media.trace.attribution import GRADED_P, IDENTIFY_P, received
from cradle.media.trace.collusion import _beside, _levels, _segments, find_colluders, member_bound

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


def _noisy(codewords: dict, leakers: list[str], seconds: int, rng, full: float = 12.0) -> list[SegmentReading]:
    """Readings of the leakers' copies averaged frame by frame, each unit's z at full x the mean of their signs plus
    the detector's noise: a unit where they differ reads at a third of the mark, or not at all."""
    readings = []
    for j in range(seconds):
        for unit in range(2):
            signs = [1.0 if codewords[a][("cam", j)][unit] is Variant.A else -1.0 for a in leakers]
            z = full * float(np.mean(signs)) + float(rng.normal(0, 1.5))
            readings.append(SegmentReading("cam", j, z, float(j), 1.0, unit, 2))
    return readings


@pytest.mark.parametrize("size", [2, 3])
def test_an_averaged_15_second_copy_names_its_set_by_the_level_of_each_unit(size):
    rng = np.random.default_rng(15 + size)
    named = 0
    for _ in range(10):
        codewords = _codewords(rng, 15)
        leakers = [f"s{i}" for i in rng.choice(ACCOUNTS, size, replace=False)]
        found = find_colluders(_noisy(codewords, leakers, 15, rng), codewords)
        if found is not None:
            assert set(found.accounts) <= set(leakers), "an innocent in the set"
            named += set(found.accounts) == set(leakers)
    assert named >= 8


def test_innocents_in_the_place_of_colluders_are_never_named():
    """The colluders' accounts are left out of the candidates: what remains (innocents only) is never a set, and
    with one colluder left in, the set never takes an innocent beside them."""
    rng = np.random.default_rng(6)
    for trial in range(60):
        codewords = _codewords(rng, 15)
        leakers = ["s0", "s1", "s2"][: 2 + trial % 2]
        readings = _noisy(codewords, leakers, 15, rng)
        innocents = {a: c for a, c in codewords.items() if a not in leakers}
        assert find_colluders(readings, innocents) is None
        found = find_colluders(readings, {**innocents, "s0": codewords["s0"]})
        assert found is None or set(found.accounts) <= {"s0"}


def test_an_innocent_beside_the_colluders_is_rarely_as_implicated_as_stated():
    """Calibration: an innocent drawn into the colluders' group matches each test by chance, so the stated bound on
    being named falls at or below q for at most a share q of innocents."""
    rng = np.random.default_rng(7)
    stated = []
    for _ in range(20):
        codewords = _codewords(rng, 15)
        readings = _noisy(codewords, ["s0", "s1"], 15, rng)
        read = [r for r in readings if r.variant is not None]
        hits = {a: [received(c, r) is r.variant for r in read] for a, c in codewords.items()}
        levels = _levels(readings, codewords)
        for innocent in [f"s{i}" for i in range(2, ACCOUNTS)]:
            stated.append(_beside(innocent, ("s0", innocent), hits, _segments(read), levels))
    stated_array = np.asarray(stated)
    for q in (0.5, 0.25, 0.1, 0.05):
        assert (stated_array <= q).mean() <= q + 0.05


def test_an_interleaved_15_second_pair_is_a_graded_set_and_never_named_outright():
    """Of a 15 s copy interleaved from two accounts, each has about 11 units the other does not explain: too few to
    name either (2^-11 is 5e-4), enough for "consistent with the set" at a stated chance below GRADED_P."""
    rng = np.random.default_rng(21)
    graded = 0
    for _ in range(20):
        codewords = _codewords(rng, 15)
        leakers = [f"s{i}" for i in rng.choice(ACCOUNTS, 2, replace=False)]
        readings = _copy(codewords, leakers, 15, "interleave", rng)
        assert find_colluders(readings, codewords) is None
        found = find_colluders(readings, codewords, graded_below=GRADED_P)
        if found is not None:
            assert not found.identified and IDENTIFY_P <= found.probability < GRADED_P
            graded += set(found.accounts) == set(leakers)
    assert graded >= 10


def test_an_interleaved_30_second_pair_is_named_beside_the_best_other_account():
    """Beside the account that matches best alone once a member is left out (chosen without the member's codeword),
    the member's own units are one test, not one per group of the shortlist."""
    rng = np.random.default_rng(30)
    named = 0
    for _ in range(20):
        codewords = _codewords(rng, 30)
        leakers = [f"s{i}" for i in rng.choice(ACCOUNTS, 2, replace=False)]
        found = find_colluders(_copy(codewords, leakers, 30, "interleave", rng), codewords)
        if found is not None:
            assert set(found.accounts) <= set(leakers), "an innocent in the set"
            named += found.identified and set(found.accounts) == set(leakers)
    assert named >= 12


def test_an_innocent_in_an_interleaving_colluders_place_is_as_rarely_implicated_as_stated():
    """Calibration of the whole bound, beside the other colluder (the best other account alone): an innocent put in
    one colluder's place is stated at or below q for at most a share q of innocents."""
    rng = np.random.default_rng(31)
    stated = []
    for _ in range(40):
        codewords = _codewords(rng, 20)
        readings = _copy(codewords, ["s0", "s1"], 20, "interleave", rng)
        rest = {a: c for a, c in codewords.items() if a != "s0"}
        for n in range(10):
            innocent = _codewords(rng, 20)["s0"]
            stated.append(member_bound(readings, {**rest, f"i{n}": innocent}, f"i{n}", ("s1",)))
    stated_array = np.asarray(stated)
    assert (stated_array < 1).any()  # some innocents are tested beside the colluder, not all dismissed alone
    for q in (0.5, 0.25, 0.1, 0.05):
        assert (stated_array <= q).mean() <= q
