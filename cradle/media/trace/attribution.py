"""Attribution: the bits read compared with every candidate's codeword, and the verdict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cradle.media.mark import Variant
from cradle.media.trace.reading import SegmentReading

# Verdict thresholds (see `decide`).
IDENTIFY_P = 1e-4
RUNNER_UP_RATIO = 100.0
# A graded verdict ("consistent with"): the best candidate matches so well that an innocent does so with at most this
# chance (4 of 4 segments, or 6 of 7), and the runner-up is at least GRADED_RATIO times as likely to match by chance.
GRADED_P = 1 / 16
GRADED_RATIO = 8.0


def innocent_probability(readable: int, matches: int) -> float:
    """P(Binomial(readable, 1/2) >= matches): the chance that a session which never had the copy matches as well.

    Assumes an innocent session's variants are independent fair coins with respect to the leaked ones, which holds
    because each variant is one bit of an HMAC under that session's own key.
    """
    if not 0 <= matches <= readable:
        raise ValueError("matches must lie between 0 and the number of readable segments")
    tail = sum(math.comb(readable, i) for i in range(matches, readable + 1))
    return tail / 2**readable


@dataclass(frozen=True, slots=True)
class CandidateScore:
    """How well one candidate's codeword matches the bits read from the suspects."""

    candidate: str
    readable: int
    matches: int
    probability: float  # that an innocent matches at least as well

    @property
    def mismatches(self) -> int:
        return self.readable - self.matches


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a trace: "identified" with the candidate, or "inconclusive" with the reason."""

    outcome: str
    reason: str
    candidate: str | None
    ranking: tuple[CandidateScore, ...]
    # The reason as a code and its numbers, so that a report can say it in the reader's language.
    reason_code: str = ""
    reason_args: Mapping[str, object] = field(default_factory=dict)


# What a candidate received of each segment: the variant of every mark unit, in order (a bare Variant: a segment of one
# unit, as before units).
Codeword = Mapping[tuple[str, int], "Variant | tuple[Variant, ...]"]


def received(codeword: Codeword, reading: SegmentReading) -> Variant | None:
    """The variant the candidate received of the unit read; None if they never received it (or the segment had
    another number of units, which is no match either)."""
    got = codeword.get((reading.source_id, reading.index))
    if got is None:
        return None
    choice = (got,) if isinstance(got, Variant) else tuple(got)
    return choice[reading.unit] if len(choice) == reading.units else None


def score(readings: Iterable[SegmentReading], candidate: str, codeword: Codeword) -> CandidateScore:
    """Matches over the readable units, each unit once (`distinct`); a unit the candidate never received counts
    against them."""
    readable = matches = 0
    for reading, variant in distinct(readings):
        readable += 1
        matches += received(codeword, reading) is variant
    return CandidateScore(candidate, readable, matches, innocent_probability(readable, matches))


def distinct(readings: Iterable[SegmentReading]) -> list[tuple[SegmentReading, Variant]]:
    """Each mark unit read once, with the variant read: a unit read more than once (a copy that shows a stretch
    twice, pieces spliced from overlapping parts, several copies of one leak) is one bit of evidence, not several;
    counted twice, an innocent's one coin would count as two and the stated probability would be too small. Readings
    of one unit that disagree cancel out (one of them is wrong); those that agree keep the strongest."""
    kept: dict[tuple[str, int, int, int], tuple[SegmentReading, Variant | None]] = {}
    for reading in readings:
        variant = reading.variant
        if variant is None:
            continue
        key = (reading.source_id, reading.index, reading.unit, reading.units)
        seen = kept.get(key)
        if seen is None:
            kept[key] = (reading, variant)
        elif seen[1] is not variant:
            kept[key] = (seen[0], None)
        elif abs(reading.z) > abs(seen[0].z):
            kept[key] = (reading, variant)
    return [(reading, variant) for reading, variant in kept.values() if variant is not None]


def attribute(readings: Iterable[SegmentReading], codewords: Mapping[str, Codeword]) -> Verdict:
    """Score every candidate (session or account) against the bits of one suspect and decide."""
    readings = list(readings)
    return decide([score(readings, candidate, codeword) for candidate, codeword in codewords.items()])


def decide(
    scores: Iterable[CandidateScore],
    identify_below: float = IDENTIFY_P,
    runner_up_ratio: float = RUNNER_UP_RATIO,
) -> Verdict:
    """Rank candidates by the chance that an innocent matches as well, and name one only when the evidence is clear.

    Short of that, a candidate far ahead of the others gets a graded verdict, "consistent" (see GRADED_P), which says
    how likely an innocent would match as well and how many accounts were served; it names nobody as the leaker.

    "identified" needs the best probability below `identify_below` and the runner-up at least `runner_up_ratio` times
    as likely to match by chance. With 15 readable segments the leaker's 2^-15 = 3e-5 then requires the runner-up to
    have at least 3 mismatches (P >= 0.018), which a session that shares no key with the leaker has with odds of
    better than 4,000 to 1; a tie or a near-tie is never a name. The probability is per candidate: with N candidates,
    about N x P innocents would match as well, which the report should show beside it.
    """
    ranking = tuple(sorted(scores, key=lambda s: (s.probability, -s.readable, s.candidate)))
    if not ranking:
        return Verdict("inconclusive", "no candidate received these segments", None, ranking, "no_candidate")
    best = ranking[0]
    runner_up = ranking[1].probability if len(ranking) > 1 else 1.0
    named = best.probability < identify_below and runner_up >= runner_up_ratio * best.probability
    if not named and best.probability <= GRADED_P and runner_up >= GRADED_RATIO * best.probability:
        return _consistent(best, ranking)
    if best.probability >= identify_below:
        needed = math.ceil(math.log2(1 / identify_below))
        if best.readable < needed:
            reason = f"too few readable segments ({best.readable}; at least {needed} are needed)"
            args: dict[str, object] = {"readable": best.readable, "needed": needed}
            return Verdict("inconclusive", reason, None, ranking, "too_few", args)
        reason = f"no candidate matches well enough (best: {best.matches} of {best.readable})"
        args = {"matches": best.matches, "readable": best.readable}
        return Verdict("inconclusive", reason, None, ranking, "weak", args)
    if len(ranking) > 1 and ranking[1].probability < runner_up_ratio * best.probability:
        reason = f"two candidates match equally well ({best.candidate}, {ranking[1].candidate})"
        args = {"first": best.candidate, "second": ranking[1].candidate}
        return Verdict("inconclusive", reason, None, ranking, "tie", args)
    reason = f"{best.matches} of {best.readable} readable segments match"
    args = {"matches": best.matches, "readable": best.readable}
    return Verdict("identified", reason, best.candidate, ranking, "match", args)


def _consistent(best: CandidateScore, ranking: tuple[CandidateScore, ...]) -> Verdict:
    """The graded verdict: evidence that points at one candidate, with its strength said plainly."""
    odds = round(1 / best.probability)
    strength = "strong" if best.probability < 1e-3 else "moderate" if best.probability < 1e-2 else "weak"
    others = len(ranking) - 1
    reason = (
        f"consistent with {best.candidate} ({strength} evidence): {best.matches} of {best.readable} readable segments"
        f" match; an innocent account matches as well with probability 1/{odds:,}; {others} other accounts were"
        " served these segments"
    )
    args = {
        "account": best.candidate,
        "strength": strength,
        "matches": best.matches,
        "readable": best.readable,
        "odds": odds,
        "others": others,
    }
    return Verdict("consistent", reason, best.candidate, ranking, "consistent", args)
