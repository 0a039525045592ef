"""Search: the stored sources a suspect may show, each confirmed by its reference frames, best agreement first."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cradle.media.fingerprint import FingerprintIndex, SourceMatch
from cradle.media.trace.references import ReferenceLoader
from cradle.media.trace.timing import Alignment, align


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
    by_source: dict[str, list[SourceMatch]] = {}
    for match in index.search(frames, fps) if matches is None else matches:
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
