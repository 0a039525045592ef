"""Collusion: a copy made from two or three accounts' copies, named as a set when no one account explains it.

Interleaving segments from several copies gives each unit one colluder's variant; averaging their frames keeps the
units where they agree and blurs the rest into erasures. Either way every readable unit is one that some member of the
set received, while no single member matches well enough to be named alone.

A set is named only when every member stands on evidence of their own, because a set that explains the bits can
always be padded with an innocent (the real colluders already explain everything). For each member three tests are
valid for an innocent, since each looks at units chosen, and at what they should show, without that member's codeword:

- alone: how well the member matches all readable units (what averaging leaves: the units where colluders agree, which
  every colluder matches);
- beside the others, by segment: how well the member matches the segments that no other member received as read
  (what interleaving leaves: a segment comes whole from one copy, so one the others cannot explain is the member's);
- beside the others, by level: averaging k copies leaves each unit's mark at (A's - B's) / k of its strength, so a
  unit reads at full strength, at a third, or not at all ("mixed"); given the others' variants and the strength a
  clear unit reads at, the level says which variant the member must have had, mixed units included.

The two tests beside the others count once per group the member could be drawn into (any of the shortlist), or once
when the others are those that match best alone once the member is left out, which are chosen without the member's
codeword; each of the two ways is bounded on its own, and their sum bounds both (PROCEDURES). The smallest of the
three tests, times three for taking the smallest, times the number of accounts that could stand in that place and
times PROCEDURES, bounds the chance that an innocent would be named there; the set is named when the largest of these
over its members is below IDENTIFY_P, and the set explains every readable unit but at most one in twenty.

Interleaving leaves each member few units of their own: of a 15 s copy of two accounts, about 11 units that the other
does not explain, so no member can reach IDENTIFY_P (2^-11 is 5e-4 before the accounts are counted). Such a set can be
given as a graded verdict instead ("consistent with the set"), with the same bound stated, when it is below the
graded threshold the caller passes; it names nobody as a leaker.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from cradle.media.mark import ERASURE_Z, Variant
from cradle.media.trace.attribution import IDENTIFY_P, Codeword, innocent_probability, received, score
from cradle.media.trace.reading import SegmentReading

MAX_SET = 3  # larger sets explain anything and are not looked for
SHORTLIST = 6  # candidates, best alone first, from which sets are drawn
# Two ways to pick the others beside a member (the best alone, or any group of the shortlist), each bounded on its own:
# the chance of either naming an innocent is at most the sum.
PROCEDURES = 2
UNEXPLAINED_SHARE = 0.05  # readable units a named set may leave unexplained (a misread unit)
TESTS = 3  # alone, beside by segment, beside by level
# Units read by level: those the suspect shows whole, and at least this many (a strength needs a few clear units).
LEVEL_COVERAGE = 0.9
LEVEL_UNITS = 8
FULL_QUANTILE = 87.5  # |z| percentile taken as a clear unit's strength (a quarter of units are clear with three)


@dataclass(frozen=True, slots=True)
class Colluders:
    """A set of accounts whose copies together explain the bits, each named at `probability` or better."""

    accounts: tuple[str, ...]
    readable: int
    explained: int
    probability: float  # the largest chance, over the members, that an innocent would be named in that place
    members: Mapping[str, float]  # each member's own chance
    identified: bool = True  # False: a graded verdict, "consistent with the set" (probability above IDENTIFY_P)


def find_colluders(
    readings: Iterable[SegmentReading],
    codewords: Mapping[str, Codeword],
    identify_below: float = IDENTIFY_P,
    graded_below: float | None = None,
) -> Colluders | None:
    """The largest set of two or three accounts that explains the readable units with every member named on its own
    evidence (see the module's docstring), or None; with `graded_below`, a set whose every member is below that
    bound but not below `identify_below` is given as a graded set (`Colluders.identified` False)."""
    readings = list(readings)
    evidence = _Evidence(readings, codewords)
    read = evidence.read
    if len(read) < 2 or len(codewords) < 2:
        return None
    explaining = []
    for size in range(min(MAX_SET, len(codewords)), 1, -1):
        for group in itertools.combinations(evidence.ranked[:SHORTLIST], size):
            explained = sum(any(evidence.hits[a][i] for a in group) for i in range(len(read)))
            if len(read) - explained <= math.floor(UNEXPLAINED_SHARE * len(read)):
                members = {a: evidence.bound(a, tuple(b for b in group if b != a)) for a in group}
                explaining.append((size, group, explained, members))
    # The largest set whose every member stands on their own: averaged copies are explained by any one of their
    # sources, so the smallest explaining set would leave colluders out. A set named outright comes before any graded
    # one: the colluders explain every unit, so a larger set can always take an innocent whose own chance happens to
    # lie below the graded bound.
    for below in (identify_below, *([] if graded_below is None else [graded_below])):
        best: Colluders | None = None
        for size in range(min(MAX_SET, len(codewords)), 1, -1):
            for _, group, explained, members in (e for e in explaining if e[0] == size):
                worst = max(members.values())
                if worst < below and (best is None or worst < best.probability):
                    identified = worst < identify_below
                    best = Colluders(tuple(sorted(group)), len(read), explained, worst, members, identified)
            if best is not None:
                return best
    return None


def member_bound(
    readings: Iterable[SegmentReading], codewords: Mapping[str, Codeword], account: str, others: tuple[str, ...]
) -> float:
    """The bound `find_colluders` states for `account` beside `others`: the chance that an innocent in that place
    would look as implicated (for reports, and to check that it holds)."""
    return _Evidence(list(readings), codewords).bound(account, others)


class _Evidence:
    """The readable units, which of them each account matches, and each account's chance alone."""

    def __init__(self, readings: list[SegmentReading], codewords: Mapping[str, Codeword]) -> None:
        self.read = [r for r in readings if r.variant is not None]
        self.accounts = len(codewords)
        self.hits = {a: [received(c, r) is r.variant for r in self.read] for a, c in codewords.items()}
        self.alone = {a: score(self.read, a, c).probability for a, c in codewords.items()}
        self.ranked = sorted(codewords, key=lambda a: (self.alone[a], a))
        self.segments = _segments(self.read)
        self.levels = _levels(readings, codewords)

    def bound(self, account: str, others: tuple[str, ...]) -> float:
        """PROCEDURES x TESTS x accounts x the smallest test of `account` beside `others`; the tests beside them
        count once when `others` are the accounts that match best alone once `account` is left out (chosen without
        its codeword), and once per group of the shortlist otherwise."""
        if not self.read:
            return 1.0
        best_others = [a for a in self.ranked if a != account][: len(others)]
        groups = 1 if set(others) == set(best_others) else math.comb(min(SHORTLIST, self.accounts - 1), len(others))
        beside = _beside(account, (*others, account), self.hits, self.segments, self.levels)
        return min(1.0, PROCEDURES * TESTS * self.accounts * min(self.alone[account], groups * beside))


def _segments(read: list[SegmentReading]) -> list[list[int]]:
    """The readable units of each segment, as positions in `read`."""
    by_segment: dict[tuple[str, int], list[int]] = {}
    for i, reading in enumerate(read):
        by_segment.setdefault((reading.source_id, reading.index), []).append(i)
    return list(by_segment.values())


@dataclass(frozen=True, slots=True)
class _Levels:
    """The units read by level: their z, the strength of a clear unit, and each account's variants as signs."""

    z: list[float]
    full: float
    signs: Mapping[str, list[int]]  # +1 for A, -1 for B, 0 for a unit the account never received


def _levels(readings: list[SegmentReading], codewords: Mapping[str, Codeword]) -> _Levels | None:
    whole = [r for r in readings if r.coverage >= LEVEL_COVERAGE]
    if len(whole) < LEVEL_UNITS:
        return None
    full = float(np.percentile([abs(r.z) for r in whole], FULL_QUANTILE))
    if full < 2 * ERASURE_Z:  # too faint to tell a third of the mark from none
        return None
    signs = {}
    for account, codeword in codewords.items():
        got = [received(codeword, r) for r in whole]
        signs[account] = [0 if v is None else 1 if v is Variant.A else -1 for v in got]
    return _Levels([r.z for r in whole], full, signs)


def _beside(
    account: str,
    group: tuple[str, ...],
    hits: Mapping[str, list[bool]],
    segments: list[list[int]],
    levels: _Levels | None,
) -> float:
    """The smaller chance, by segment and by level, that an innocent beside the others matches as well as `account`."""
    others = [a for a in group if a != account]
    # By segment: segments that no other member received as read must have come from this member's copy.
    rest = [i for units in segments if not any(all(hits[a][i] for i in units) for a in others) for i in units]
    by_segment = innocent_probability(len(rest), sum(hits[account][i] for i in rest)) if rest else 1.0
    if levels is None:
        return by_segment
    # By level: the unit's z lies at full x (this member's sign + the others' signs) / group size; the member's sign
    # is the one nearer to it, when the unit lies clearly on one side of the middle.
    size, full = len(group), levels.full
    shown = matched = 0
    for i, z in enumerate(levels.z):
        known = [levels.signs[a][i] for a in others]
        if 0 in known:
            continue
        away = z - full * sum(known) / size
        if abs(away) < full / (2 * size):
            continue
        shown += 1
        matched += levels.signs[account][i] == (1 if away > 0 else -1)
    by_level = innocent_probability(shown, matched) if shown else 1.0
    return min(by_segment, by_level)
