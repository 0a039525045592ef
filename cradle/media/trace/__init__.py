"""Leak tracing without Django: from a suspect clip to its source, its bits, and the session that received them.

The stages, one module each:

- `search`: the fingerprint index (cradle.media.fingerprint) names candidate sources and rough time offsets, and each
  is confirmed against its unmarked reference frames (`locate_all`).
- `timing`: which source instant each suspect frame shows (`align`, giving an `Alignment`); a copy whose picture
  differs anywhere from the reference (another bed, another card) is rejected, so a look-alike scene is "no source".
- `registration`: the homography that maps suspect pixels onto the reference (ORB + RANSAC, refined densely).
- `reading`: the informed detector of cradle.media.mark on every segment the suspect covers (`read_bits`).
- `attribution`: the bits against each candidate's codeword, with the chance that an innocent matches as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cradle.media.fingerprint import FingerprintIndex, SourceMatch
from cradle.media.trace.attribution import (
    IDENTIFY_P,
    RUNNER_UP_RATIO,
    CandidateScore,
    Codeword,
    Verdict,
    attribute,
    combine,
    decide,
    innocent_probability,
    score,
)
from cradle.media.trace.reading import SegmentReading, read_bits
from cradle.media.trace.references import ReferenceLoader
from cradle.media.trace.registration import estimate_homography, refine_homography, rescale_homography
from cradle.media.trace.search import locate, locate_all
from cradle.media.trace.timing import Alignment, align

__all__ = [
    "IDENTIFY_P",
    "RUNNER_UP_RATIO",
    "Alignment",
    "CandidateScore",
    "Codeword",
    "ReferenceLoader",
    "SegmentReading",
    "Verdict",
    "align",
    "attribute",
    "combine",
    "decide",
    "estimate_homography",
    "innocent_probability",
    "locate",
    "locate_all",
    "read_bits",
    "refine_homography",
    "rescale_homography",
    "score",
    "trace",
]


def trace(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    key: bytes,
    matches: Sequence[SourceMatch] | None = None,
) -> tuple[Alignment | None, list[SegmentReading]]:
    """Source, alignment and readings of one suspect; (None, []) for "no matching source".

    The mark settles what the picture cannot: when the best-agreeing source reads no segment at all, the next source
    that also agrees is read, since a mark under the wrong source's key reads as chance (erasures), never as bits.
    """
    found = locate_all(frames, fps, index, reference_loader, matches=matches)
    first: tuple[Alignment | None, list[SegmentReading]] = (None, [])
    for alignment in found:
        readings = read_bits(frames, fps, alignment, reference_loader, key)
        if any(r.variant is not None for r in readings):
            return alignment, readings
        if first[0] is None:
            first = (alignment, readings)
    return first
