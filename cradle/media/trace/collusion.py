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

The two tests beside the others are tried beside every group the member could be drawn into, so they count once per
such group. The smallest of the three, times three for taking the smallest and times the number of accounts that
could stand in that place, bounds the chance that an innocent would be named there; the set is named when the largest
of these over its members is below IDENTIFY_P, and the set explains every readable unit but at most one in twenty.
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


def find_colluders(
    readings: Iterable[SegmentReading], codewords: Mapping[str, Codeword], identify_below: float = IDENTIFY_P
) -> Colluders | None:
    """The largest set of two or three accounts that explains the readable units with every member named on its own
    evidence (see the module's docstring), or None."""
    readings = list(readings)
    read = [r for r in readings if r.variant is not None]
    if len(read) < 2 or len(codewords) < 2:
        return None
    hits = {a: [received(c, r) is r.variant for r in read] for a, c in codewords.items()}
    alone = {a: score(read, a, c).probability for a, c in codewords.items()}
    shortlist = sorted(codewords, key=lambda a: (alone[a], a))[:SHORTLIST]
    accounts = len(codewords)
    segments = _segments(read)
    levels = _levels(readings, codewords)
    best: Colluders | None = None
    # The largest set whose every member stands on their own: averaged copies are explained by any one of their
    # sources, so the smallest explaining set would leave colluders out.
    for size in range(MAX_SET, 1, -1):
        # Beside an innocent, the others are drawn from the best of the other accounts, never more than these.
        groups = math.comb(min(SHORTLIST, accounts - 1), size - 1)
        for group in itertools.combinations(shortlist, size):
            explained = sum(any(hits[a][i] for a in group) for i in range(len(read)))
            if len(read) - explained > math.floor(UNEXPLAINED_SHARE * len(read)):
                continue
            members = {
                a: min(1.0, TESTS * accounts * min(alone[a], groups * _beside(a, group, hits, segments, levels)))
                for a in group
            }
            worst = max(members.values())
            if worst < identify_below and (best is None or worst < best.probability):
                best = Colluders(tuple(sorted(group)), len(read), explained, worst, members)
        if best is not None:
            return best
    return None


def member_bound(
    readings: Iterable[SegmentReading], codewords: Mapping[str, Codeword], group: tuple[str, ...], account: str
) -> float:
    """The bound `find_colluders` states for `account` in `group`: the chance that an innocent in that place would
    look as implicated (for reports, and to check that it holds)."""
    readings = list(readings)
    read = [r for r in readings if r.variant is not None]
    if not read:
        return 1.0
    hits = {a: [received(codewords[a], r) is r.variant for r in read] for a in group}
    alone = score(read, account, codewords[account]).probability
    groups = math.comb(min(SHORTLIST, len(codewords) - 1), len(group) - 1)
    beside = _beside(account, group, hits, _segments(read), _levels(readings, codewords))
    return min(1.0, TESTS * len(codewords) * min(alone, groups * beside))


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
