"""Attribution: a candidate is named only when an innocent could hardly match as well and nobody else comes close."""

from __future__ import annotations

from dataclasses import replace

import pytest
from trace_support import SOURCE, readings

from cradle.media.mark import Variant
from cradle.media.trace import attribute, distinct, innocent_probability

pytestmark = pytest.mark.nodb


def test_innocent_probability_is_the_exact_binomial_tail():
    assert innocent_probability(15, 15) == 2**-15
    assert innocent_probability(10, 8) == (45 + 10 + 1) / 1024
    assert innocent_probability(0, 0) == 1.0
    with pytest.raises(ValueError):
        innocent_probability(5, 6)


def test_verdict_needs_enough_readable_segments():
    bits = [Variant.A] * 10 + [None] * 6
    verdict = attribute(readings(bits), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    # 10 of 10 is graded, never a name: an innocent would match as well once in 1,024.
    assert verdict.outcome == "consistent" and verdict.outcome != "identified"
    assert verdict.reason_args["odds"] == 1024 and verdict.reason_args["strength"] == "strong"
    few = attribute(readings([Variant.A] * 3 + [None] * 13), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    assert few.outcome == "inconclusive" and "too few readable segments" in few.reason


def test_a_short_clip_gets_a_graded_verdict_that_says_how_strong_it_is():
    bits = [Variant(i % 2) for i in range(6)]
    leaker = {(SOURCE, i): Variant(i % 2) for i in range(6)}
    others = {f"s{n}": {(SOURCE, i): Variant((i + (i < n)) % 2) for i in range(6)} for n in range(2, 9)}
    verdict = attribute(readings(bits), {"leaker": leaker, **others})
    assert verdict.outcome == "consistent" and verdict.candidate == "leaker"
    assert dict(verdict.reason_args) == {
        "account": "leaker", "strength": "weak", "matches": 6, "readable": 6, "odds": 64, "others": 7,
    }  # fmt: skip
    assert "1/64" in verdict.reason and "7 other accounts" in verdict.reason
    # A runner-up that matches nearly as well leaves it inconclusive.
    close = {**others, "twin": {**leaker, (SOURCE, 5): Variant.A}}
    assert attribute(readings(bits), {"leaker": leaker, **close}).outcome == "inconclusive"


def test_two_candidates_with_the_same_codeword_are_never_named():
    codeword = {(SOURCE, i): Variant(i % 2) for i in range(16)}
    verdict = attribute(readings([Variant(i % 2) for i in range(16)]), {"s1": codeword, "s2": dict(codeword)})
    assert verdict.outcome == "inconclusive" and "two candidates" in verdict.reason


def test_no_candidate_is_inconclusive():
    verdict = attribute(readings([Variant.A] * 16), {})
    assert verdict.outcome == "inconclusive" and verdict.reason.startswith("no candidate")


def test_a_segment_the_candidate_never_fetched_counts_against_it():
    codeword = {(SOURCE, i): Variant.A for i in range(8)}
    (score,) = attribute(readings([Variant.A] * 16), {"s1": codeword}).ranking
    assert (score.readable, score.matches) == (16, 8)


def test_evidence_of_several_suspects_adds_up_per_account_over_different_segments():
    # Two 8-segment leaks of different stretches: neither names anyone alone; together 16 of 16 do.
    codewords = {
        "alice": {(SOURCE, i): Variant.A for i in range(16)},
        "bob": {(SOURCE, i): Variant.B for i in range(16)},
    }
    first, second = readings([Variant.A] * 8), readings([None] * 8 + [Variant.A] * 8)
    assert attribute(first, codewords).outcome == "consistent"  # graded: alice is named by neither alone
    verdict = attribute(first + second, codewords)
    assert verdict.outcome == "identified" and verdict.candidate == "alice"
    assert verdict.ranking[0].probability == 2**-16


def test_copies_of_one_leak_are_one_leaks_evidence():
    """The same 8 units read from two copies (one clip re-posted twice, or a stretch shown twice) are 8 coins of an
    innocent, not 16: counted twice, a 1-in-256 match would be stated as 1 in 65,536 and name someone."""
    codewords = {"alice": {(SOURCE, i): Variant.A for i in range(8)}, "bob": {(SOURCE, i): Variant.B for i in range(8)}}
    once = readings([Variant.A] * 8)
    verdict = attribute(once + once + once, codewords)
    assert verdict.outcome != "identified"
    best = verdict.ranking[0]
    assert (best.candidate, best.readable, best.matches, best.probability) == ("alice", 8, 8, 2**-8)


def test_a_unit_read_both_ways_is_no_evidence_and_the_strongest_agreeing_reading_stands():
    a, b = readings([Variant.A] * 4), readings([Variant.B] * 4)
    mixed = [a[0], b[0], a[1], a[1], b[2]]
    kept = dict((r.index, v) for r, v in distinct(mixed))
    assert kept == {1: Variant.A, 2: Variant.B}  # unit 0 read as A and as B: dropped
    strong = replace(a[3], z=20.0)
    assert [r.z for r, _ in distinct([a[3], strong])] == [20.0]


def test_the_reason_comes_with_a_code_and_numbers_a_report_can_translate():
    verdict = attribute(readings([Variant.A] * 3 + [None] * 13), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    assert (verdict.reason_code, dict(verdict.reason_args)) == ("too_few", {"readable": 3, "needed": 14})
