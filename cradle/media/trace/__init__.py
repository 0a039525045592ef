"""Leak tracing without Django: from a suspect clip to its source, its bits, and the session that received them.

The stages, one module each:

- `search`: the fingerprint index (cradle.media.fingerprint) names candidate sources and rough time offsets, and each
  is confirmed against its unmarked reference frames (`locate_all`).
- `timing`: which source instant each suspect frame shows (`align`, giving an `Alignment`); a copy whose picture
  differs anywhere from the reference (another bed, another card) is rejected, so a look-alike scene is "no source".
- `mapping`, `frame_path`: a copy sped up, slowed down, spliced, with lost or repeated frames: the camera frame each
  suspect frame shows.
- `registration`: the homography that maps suspect pixels onto the reference (ORB + RANSAC, refined densely).
- `reading`: the informed detector of cradle.media.mark on every segment the suspect covers (`read_bits`).
- `attribution`: the bits against each candidate's codeword, with the chance that an innocent matches as well.
- `collusion`: a copy made from two or three accounts' copies, named as a set, each member on evidence of their own.
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
    decide,
    distinct,
    innocent_probability,
    received,
    score,
)
from cradle.media.trace.reading import SegmentReading, UnitCount, current_units, read_bits, units_read
from cradle.media.trace.references import ReferenceLoader
from cradle.media.trace.registration import estimate_homography, refine_homography, rescale_homography
from cradle.media.trace.search import SAME_PACE, SHORTLIST_ROWS, Passes, framed_first, locate, locate_all
from cradle.media.trace.timing import Alignment, align

CANDIDATES = 3  # stored sources aligned with a suspect, best fingerprint match first
HIDDEN_SHARE = 0.25  # the most of the picture that captions and stickers may cover
TIMED_MARGIN = 2  # readable segments by which a re-timed reading must beat the copy read as it is
# Units of the copy as it is that may go unread for its reading to stand without a time mapping. Read at a wrong time a
# unit meets another unit's pattern and reads as an erasure, so a copy sped up, slowed down or spliced leaves many
# unread; and a mapping whose pieces reach no more units than the copy covers cannot read TIMED_MARGIN more.
UNREAD_AS_IS = TIMED_MARGIN - 1
SPAN_ENDS = 0.2  # share of the copy at either end in which a reading as it is must read to stand without a mapping
# Camera frames by which a piece followed frame by frame may stray from the copy aligned as it is and still be taken as
# that alignment wobbling (`_wobbles`): an unmarked copy's path strayed up to 2.5 frames (tuning controls 0-5).
WOBBLE_FRAMES = 3.0

__all__ = [
    "IDENTIFY_P",
    "RUNNER_UP_RATIO",
    "Alignment",
    "CandidateScore",
    "Codeword",
    "ReferenceLoader",
    "SegmentReading",
    "UnitCount",
    "Verdict",
    "align",
    "attribute",
    "decide",
    "distinct",
    "estimate_homography",
    "innocent_probability",
    "locate",
    "locate_all",
    "read_bits",
    "received",
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
    units: UnitCount = current_units,
) -> tuple[Alignment | None, list[SegmentReading]]:
    """Source, alignment and readings of one suspect; (None, []) for "no matching source". `units` says how many mark
    units each stored segment has (segments made before units have one)."""
    if matches is None:
        matches = index.search(frames, fps, k=SHORTLIST_ROWS)
    # The copy as it is; then with captions or stickers left out; then its framings (a crop, a canvas, a turn, a
    # screen), plainly and with captions left out. The picture alone cannot tell a caption from another bed's card,
    # so an alignment found with parts left out stands only if the mark reads under it; nor one found by following
    # the copy frame by frame, which picks for each frame whichever camera frame looks most alike and so can follow
    # a look-alike bed's footage too.
    # Each pass first aligns the copy as it is, which costs a third of mapping its time (CPU seconds per trace: 5.9
    # aligning, 4.5 mapping, 2.5 aligning the mapped pieces); a reading of it that leaves at most UNREAD_AS_IS units
    # unread, or reads at both ends of the copy, stands (`_settled`), and only otherwise is the time mapped.
    passes = Passes()  # the framings, their searches, alignments and time mappings, found once for every pass
    read: dict[tuple[object, ...], tuple[np.ndarray, list[SegmentReading]]] = {}  # each alignment's, for every pass
    unread: tuple[Alignment, list[SegmentReading]] | None = None
    groups = [[(0.0, False), (HIDDEN_SHARE, False)], [(HIDDEN_SHARE, True), (0.0, True)]]
    if framed_first(frames, fps, index, matches, passes):
        groups.reverse()
    # Within a group, each pass is aligned as it is before any is re-timed: a copy under captions agrees with its
    # source once they are left out, and needs no time mapping (occlusion drills of tuning seeds 0-1: 8.8 -> 4.7 CPU s
    # a trace, with the fingerprint search's bound).
    # A copy whose whole picture agrees as it is hides nothing that leaving captions out would show: it is re-timed
    # first (an unmarked copy is answered before its captions are looked for).
    for group in groups:
        steps = [(hidden_share, framed, False) for hidden_share, framed in group]
        steps += [(hidden_share, framed, True) for hidden_share, framed in group]
        while steps:
            hidden_share, framed, timed = steps.pop(0)
            # The source the fingerprints rank first, alone: when its mark reads, the others need no alignment
            # nor time mapping (a mark read under the wrong source's key reads as erasures, never as bits). What
            # it found is kept in `passes` for the pass over every candidate.
            for candidates in (1, CANDIDATES):
                found = locate_all(
                    frames,
                    fps,
                    index,
                    reference_loader,
                    candidates,
                    matches=matches,
                    hidden_share=hidden_share,
                    framed=framed,
                    passes=passes,
                    timed=timed,
                )
                if candidates == 1 and found:
                    alignment, readings, reads = _read(frames, fps, found, reference_loader, key, units, read, passes)
                    if reads and (timed or _settled(readings, len(frames) / fps)):
                        return alignment, readings
            if not found:
                continue  # a copy sped up or slowed down may agree only once its time is mapped
            if not (timed or hidden_share):
                steps.remove((hidden_share, framed, True))
                steps.insert(0, (hidden_share, framed, True))
            alignment, readings, reads = _read(frames, fps, found, reference_loader, key, units, read, passes)
            if not timed and not (reads and _settled(readings, len(frames) / fps)):
                continue
            if reads:
                return alignment, readings
            if not (hidden_share or alignment.piece is not None):
                # A source whose mark reads nowhere: the answer, unless a later pass reads (the copy as it is,
                # when its framings were searched first).
                if not framed:
                    return alignment, readings
                unread = unread or (alignment, readings)
            elif hidden_share:
                # The copy agrees with its shortlisted sources once parts are left out, yet no mark reads under
                # any of them, aligned as it is or re-timed: another bed of the same room, its card taken for a
                # caption. Another framing only finds the picture another way, and the picture was found:
                # searching the framings cost another-bed controls 12 of their 52 CPU seconds (tuning control
                # seed 2), and searching the copy as it is after its framings, another bed inset in foreign footage
                # (picture in picture, tuning control seed 11: 32 -> 24 CPU s, with the search's bound).
                return unread or (None, [])
    return unread or (None, [])


def _settled(readings: Sequence[SegmentReading], duration: float) -> bool:
    """Whether a reading of the copy aligned as it is stands without a time mapping: it leaves at most UNREAD_AS_IS
    units unread, or it reads near both ends of the copy (within SPAN_ENDS of its length).

    Read at a wrong pace, a unit meets another unit's pattern and reads as an erasure, and the offset fitted over the
    whole copy is right only along one stretch of it; a copy cut and spliced holds its offset in one part. One offset
    that reads at both ends holds in between: the pace is the camera's and no part was cut out, so a mapping would
    find the same units, and its erasures (an average of two accounts' copies, a low bit rate) are the copy's own.
    """
    if sum(r.variant is None for r in readings) <= UNREAD_AS_IS:
        return True
    at = [r.suspect_start for r in readings if r.variant is not None]
    return bool(at) and min(at) <= SPAN_ENDS * duration and max(at) >= (1 - SPAN_ENDS) * duration - 1


def _read(
    frames: Sequence[np.ndarray],
    fps: float,
    found: list[Alignment],
    reference_loader: ReferenceLoader,
    key: bytes,
    units: UnitCount,
    read: dict[tuple[object, ...], tuple[np.ndarray, list[SegmentReading]]] | None = None,
    passes: Passes | None = None,
) -> tuple[Alignment, list[SegmentReading], bool]:
    """The first source that reads at least one segment, its readings and True; else the first source, its readings
    and False.

    The mark settles what the picture cannot: when the best-agreeing source reads no segment at all, the next source
    that also agrees is read, since a mark under the wrong source's key reads as chance (erasures), never as bits.
    `passes` learns when a time mapping only wobbled about an alignment that read nothing (`Passes.steady`).
    """
    read = {} if read is None else read

    def reading_of(alignment: Alignment) -> list[SegmentReading]:
        # A pass that finds an alignment again holds the same homography (cradle.media.trace.search.Passes); the
        # dictionary keeps that array alive, so its id names no other while the trace lasts. A reading stops after a
        # few units when none of them reads (cradle.media.trace.reading.PROBE_UNITS): most alignments a trace reads
        # in vain are of look-alike sources.
        known = (alignment.source_id, alignment.offset, alignment.framing, alignment.piece, id(alignment.homography))
        if known not in read:
            readings = read_bits(frames, fps, alignment, reference_loader, key, units, probe=True)
            read[known] = (alignment.homography, readings)
        return read[known][1]

    first: tuple[Alignment, list[SegmentReading], bool] | None = None
    for source_id in dict.fromkeys(a.source_id for a in found):
        mine = [a for a in found if a.source_id == source_id]
        pieces = [a for a in mine if a.piece is not None]
        # Read as it is and, for a copy whose time was mapped, piece by piece; the one that reads more holds.
        options = [(0, a, reading_of(a)) for a in mine if a.piece is None]
        if pieces and options:
            # Pieces that reach too few units to beat the copy as it is, even were every one read, need not be read;
            # nor a piece that only wobbles about an alignment of the copy as it is that read nothing (`_wobbles`).
            reach = set().union(*(units_read(len(frames), fps, a, reference_loader, units) for a in pieces))
            read_as_is = [sum(r.variant is not None for r in o[2]) for o in options]
            unread = [o[1] for o, count in zip(options, read_as_is, strict=True) if not count]
            wobbling = any(_wobbles(pieces, a, fps) for a in unread)
            if wobbling and passes is not None:
                passes.steady = True
            if len(reach) - (TIMED_MARGIN - 1) <= max(read_as_is) or wobbling:
                pieces = []
        if pieces:
            merged = _merged([r for a in pieces for r in reading_of(a)])
            # The mapping must read clearly more than the copy as it is (a segment at either end is no reason).
            options.append((TIMED_MARGIN - 1 if options else 0, pieces[0], merged))
        _, alignment, readings = max(options, key=lambda o: sum(r.variant is not None for r in o[2]) - o[0])
        if any(r.variant is not None for r in readings):
            return alignment, readings, True
        if first is None:
            first = (alignment, readings, False)
    assert first is not None  # `found` is never empty
    return first


def _wobbles(pieces: Sequence[Alignment], as_is: Alignment, fps: float) -> bool:
    """Whether a time mapping only wobbles about the copy aligned as it is: one piece, followed frame by frame at the
    camera's pace, whose source instants lie about the same offset (their median within half a camera frame of it)
    and never stray by more than WOBBLE_FRAMES.

    Followed frame by frame, a copy without a mark (or another bed's, whose mark is not there to read) takes for
    each frame whichever camera frame looks most alike, a frame or two either side of the one it shows. Read along
    such a path, a copy whose reading as it is read no unit reads none either (only half its frames are a frame
    off, and a frame off the mark reads as an erasure): for another bed's copy, reading it cost 2.4 of its 15 CPU
    seconds (tuning control seed 2). A copy that lost or repeated frames strays from its offset by more, or reads
    as it is where it does not stray; one whose offset the alignment missed by a frame has its path's median there.
    """
    if len(pieces) != 1 or pieces[0].piece is None or not pieces[0].pace:
        return False
    piece, pace = pieces[0].piece, pieces[0].pace
    if not piece.shown or abs(piece.rate - 1) > SAME_PACE:
        return False
    shown = np.asarray(piece.shown)
    suspect_times = (piece.first_frame(fps) + np.arange(len(shown))) / fps
    away = (shown - suspect_times - as_is.offset) * pace
    return abs(float(np.median(away))) <= 0.5 and float(np.abs(away).max()) <= WOBBLE_FRAMES


def _merged(readings: list[SegmentReading]) -> list[SegmentReading]:
    """One reading per unit (a unit two pieces both reach keeps the one that covered more of it), in order."""
    best: dict[tuple[str, int, int], SegmentReading] = {}
    for reading in readings:
        key = (reading.source_id, reading.index, reading.unit)
        if key not in best or reading.coverage > best[key].coverage:
            best[key] = reading
    return sorted(best.values(), key=lambda r: (r.index, r.unit))
