"""Collusion: a copy made from two or three accounts' copies, named as a set when no one account explains it.

Interleaving segments from several copies gives each unit one colluder's variant; averaging their frames keeps the
units where they agree and blurs the rest into erasures. Either way every readable unit is one that some member of the
set received, while no single member matches well enough to be named alone.

A set is named only when every member stands on evidence of their own, because a set that explains the bits can
always be padded with an innocent (the real colluders already explain everything). For each member two tests are
valid for an innocent, since each looks at units chosen without that member's codeword:

- alone: how well the member matches all readable units (what averaging leaves: the units where colluders agree, which
  every colluder matches);
- beside the others: how well the member matches the units that the other members cannot explain (what interleaving
  leaves: the member's own segments where the others differ).

The second is tried beside every group the member could be drawn into, so it counts once per such group. The smaller
of the two, doubled for taking the smaller and multiplied by the number of accounts that could stand in that place,
bounds the chance that an innocent would be named there; the set is named when the largest of these over its
members is below IDENTIFY_P, and the set explains every readable unit but at most one in twenty.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cradle.media.trace.attribution import IDENTIFY_P, Codeword, innocent_probability, received, score
from cradle.media.trace.reading import SegmentReading

MAX_SET = 3  # larger sets explain anything and are not looked for
SHORTLIST = 12  # candidates, best alone first, from which sets are drawn
UNEXPLAINED_SHARE = 0.05  # readable units a named set may leave unexplained (a misread unit)


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
    read = [r for r in readings if r.variant is not None]
    if len(read) < 2 or len(codewords) < 2:
        return None
    hits = {a: [received(c, r) is r.variant for r in read] for a, c in codewords.items()}
    alone = {a: score(read, a, c).probability for a, c in codewords.items()}
    shortlist = sorted(codewords, key=lambda a: (alone[a], a))[:SHORTLIST]
    accounts = len(codewords)
    best: Colluders | None = None
    # The largest set whose every member stands on their own: averaged copies are explained by any one of their
    # sources, so the smallest explaining set would leave colluders out.
    for size in range(MAX_SET, 1, -1):
        for group in itertools.combinations(shortlist, size):
            explained = sum(any(hits[a][i] for a in group) for i in range(len(read)))
            if len(read) - explained > math.floor(UNEXPLAINED_SHARE * len(read)):
                continue
            groups = math.comb(len(shortlist) - 1, size - 1)
            members = {a: _member(a, group, hits, alone[a], accounts, groups) for a in group}
            worst = max(members.values())
            if worst < identify_below and (best is None or worst < best.probability):
                best = Colluders(tuple(sorted(group)), len(read), explained, worst, members)
        if best is not None:
            return best
    return None


def _member(
    account: str, group: tuple[str, ...], hits: Mapping[str, list[bool]], alone: float, accounts: int, groups: int
) -> float:
    """A bound on the chance that an innocent in this member's place would look as implicated as the member does."""
    others = [a for a in group if a != account]
    rest = [i for i, _ in enumerate(hits[account]) if not any(hits[a][i] for a in others)]
    beside = innocent_probability(len(rest), sum(hits[account][i] for i in rest)) if rest else 1.0
    return min(1.0, 2 * accounts * min(alone, groups * beside))
