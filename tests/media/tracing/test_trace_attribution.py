"""Attribution: a candidate is named only when an innocent could hardly match as well and nobody else comes close."""

from __future__ import annotations

import pytest
from trace_support import SOURCE, readings

from cradle.media.mark import Variant
from cradle.media.trace import CandidateScore, attribute, combine, decide, innocent_probability

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
    assert verdict.outcome == "inconclusive" and "too few readable segments" in verdict.reason


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


def test_evidence_of_several_suspects_adds_up_per_account():
    # Two 8-segment leaks: neither names anyone alone; together 16 of 16 do.
    first = [CandidateScore("alice", 8, 8, innocent_probability(8, 8)), CandidateScore("bob", 8, 4, 0.64)]
    second = [CandidateScore("alice", 8, 8, innocent_probability(8, 8)), CandidateScore("bob", 8, 3, 0.86)]
    assert decide(first).outcome == "inconclusive"
    verdict = decide(combine([first, second]))
    assert verdict.outcome == "identified" and verdict.candidate == "alice"
    assert verdict.ranking[0].probability == 2**-16


def test_the_reason_comes_with_a_code_and_numbers_a_report_can_translate():
    verdict = attribute(readings([Variant.A] * 10 + [None] * 6), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    assert (verdict.reason_code, dict(verdict.reason_args)) == ("too_few", {"readable": 10, "needed": 14})
