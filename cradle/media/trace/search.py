"""Search: the stored sources a suspect may show, each confirmed by its reference frames, best agreement first.

The suspect is first searched as it is. When nothing stored both resembles it and agrees with it frame by frame, the
framings of cradle.media.trace.framing (a box inside a larger canvas, a turn, a mirror) are probed, and the few that
resemble something stored are searched in full, with a lower similarity gate since their sources are confirmed the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cradle.media.fingerprint import MATCH_SIMILARITY, FingerprintIndex, SourceMatch
from cradle.media.trace.framing import IDENTITY, framings
from cradle.media.trace.references import ReferenceLoader
from cradle.media.trace.timing import Alignment, align

FRAMINGS_SEARCHED = 3  # the best-probing framings searched in full
SIMILARITY_SLACK = 0.05  # a framing's windows are searched down to its probe similarity less this


def locate_all(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    candidates: int = 3,
    matches: Sequence[SourceMatch] | None = None,
) -> list[Alignment]:
    """Every shortlisted source the suspect's picture agrees with, best agreement first.

    The fingerprint index shortlists sources (or `matches`, when the caller searched already); the best `candidates`
    of them are checked against their references. Two beds of one ward can look alike at fingerprint size, so all are
    checked rather than the first that passes.
    """
    first = index.search(frames, fps) if matches is None else list(matches)
    found = _confirmed(frames, fps, first, reference_loader, candidates)
    if found:
        return found
    for similarity, framing in framings(frames, fps, index)[:FRAMINGS_SEARCHED]:
        if framing == IDENTITY and first:
            continue  # searched already at the usual gate, and nothing it found agreed
        shown = [framing.apply(frame) for frame in frames]
        gate = min(MATCH_SIMILARITY, similarity - SIMILARITY_SLACK)
        found = _confirmed(shown, fps, index.search(shown, fps, similarity=gate), reference_loader, candidates)
        if found:
            return [replace(alignment, framing=framing) for alignment in found]
    return []


def _confirmed(
    frames: Sequence[np.ndarray],
    fps: float,
    matches: Sequence[SourceMatch],
    reference_loader: ReferenceLoader,
    candidates: int,
) -> list[Alignment]:
    by_source: dict[str, list[SourceMatch]] = {}
    for match in matches:
        if match.source_id in by_source or len(by_source) < candidates:
            by_source.setdefault(match.source_id, []).append(match)
    found = [align(frames, fps, shortlist, reference_loader) for shortlist in by_source.values()]
    return sorted((a for a in found if a is not None), key=lambda a: (a.agreement, a.correlation), reverse=True)


def locate(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    candidates: int = 3,
    matches: Sequence[SourceMatch] | None = None,
) -> Alignment | None:
    """The source of a suspect clip and its alignment, or None for "no matching source"."""
    found = locate_all(frames, fps, index, reference_loader, candidates, matches)
    return found[0] if found else None
