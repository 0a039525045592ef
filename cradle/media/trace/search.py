"""Search: the stored sources a suspect may show, each confirmed by its reference frames, best agreement first.

The suspect is first searched as it is (and, where captions may cover part of it, cell by cell as well). When nothing
stored both resembles it and agrees with it frame by frame, the framings of cradle.media.trace.framing (a box inside a
larger canvas, a turn, a mirror) are probed, and the few that resemble something stored are searched in full, with a
lower similarity gate since their sources are confirmed the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cradle.media.fingerprint import MATCH_SIMILARITY, SEGMENT_SECONDS, FingerprintIndex, SourceMatch
from cradle.media.trace.framing import IDENTITY, Framing, framings
from cradle.media.trace.mapping import Piece, map_time, plain, retime
from cradle.media.trace.references import ReferenceLoader, References
from cradle.media.trace.registration import estimate_homography, rescale_homography
from cradle.media.trace.timing import Alignment, align

FRAMINGS_SEARCHED = 3  # the best-probing framings searched in full
SIMILARITY_SLACK = 0.05  # a framing's windows are searched down to its probe similarity less this
# Stored segments each suspect window may vote for. A still camera's segments all look alike, so one look-alike clip
# can fill the first few dozen places; the votes for one consistent offset then pick the true source out of many.
SHORTLIST_ROWS = 256
SAME_PACE = 0.01  # pieces this close to the camera's pace take the registration of the copy aligned as it is
# A copy as it is whose best shortlisted source scores below this may be framed (re-encoded, cropped, brightened
# copies score above 0.98; a 9:16 story over its own blurred enlargement 0.88, a sepia filter 0.94).
FRAMED_BELOW = 0.95
# How much better than the copy as it is a framing must probe for the framings to be searched first, and how well at
# least: the framings of canvases, insets and filmed screens probed 0.95-0.999 on tuning drills, the best (wrong) boxes
# of copies under captions and stickers 0.82-0.85.
FRAMED_MARGIN = 0.05
FRAMED_PROBE = 0.95
# A copy whose picture, nothing left out, agrees this well with one source's everywhere (the third-lowest block
# correlation, cradle.media.trace.timing) shows that source's picture; another source agreeing more than
# DISAGREES_BY less shows another picture (another bed of the room: 0.54-0.94 beside 0.99-1.0 on tuning controls 0-8),
# so neither its mark nor its time is read. A camera stored twice (live and a recorded clip) agrees as well, and stays.
AGREES_EVERYWHERE = 0.95
DISAGREES_BY = 0.03


class Passes:
    """What the passes of one trace share, as they look at the same copy with and without captions left out: the
    framings probed, each framing's frames and search, and each source's time mapping (none depends on the captions).
    Kept only while one suspect is traced."""

    def __init__(self) -> None:
        self.framings: list[tuple[float, Framing]] | None = None
        self.shown: dict[Framing, list[np.ndarray]] = {}
        self.searched: dict[tuple[Framing, float], list[SourceMatch]] = {}
        self.mapped: dict[tuple[int, str, tuple[float, ...]], list[Piece]] = {}
        self.regional: list[SourceMatch] | None = None  # the copy as it is, searched region by region
        self.aligned: dict[tuple[int, str, tuple[float, ...], float], Alignment | None] = {}
        self.timed: dict[tuple[int, str, tuple[float, ...], float], list[Alignment]] = {}
        # The copy runs at the camera's pace without a cut: a time mapping onto one source only wobbled about its
        # alignment as it is, whose reading read nothing (cradle.media.trace._wobbles). The pace is the copy's, not
        # the source's, so the time of no further source is mapped.
        self.steady = False


def locate_all(
    frames: Sequence[np.ndarray],
    fps: float,
    index: FingerprintIndex,
    reference_loader: ReferenceLoader,
    candidates: int = 3,
    matches: Sequence[SourceMatch] | None = None,
    hidden_share: float = 0.0,
    framed: bool | None = None,
    passes: Passes | None = None,
    timed: bool = True,
) -> list[Alignment]:
    """Every shortlisted source the suspect's picture agrees with, best agreement first; with `framed` False only the
    copy as it is, with True only its framings, and with None the framings when the copy as it is finds nothing.

    The fingerprint index shortlists sources (or `matches`, when the caller searched already); the best `candidates`
    of them are checked against their references. Two beds of one ward can look alike at fingerprint size, so all are
    checked rather than the first that passes. With `hidden_share`, captions and stickers may cover up to that
    share of the picture (see `align`), and when the shortlist finds nothing the copy as it is is searched region by
    region as well. `passes` keeps work that another pass over the same suspect can use again. With `timed` False the
    copy is only aligned as it is, without mapping its time (see cradle.media.trace.trace).
    """
    passes = Passes() if passes is None else passes
    first = index.search(frames, fps, k=SHORTLIST_ROWS) if matches is None else list(matches)
    if not framed:
        found = _confirmed(frames, fps, first, reference_loader, candidates, hidden_share, passes, timed)
        if not found and hidden_share:
            # What covers part of the picture lowers its global likeness; cell by cell it still shows. Searched only
            # when the global shortlist finds nothing: its many windows map a re-timed copy better than these few.
            if passes.regional is None:
                passes.regional = index.search(frames, fps, k=SHORTLIST_ROWS, regional=True)
            regional = passes.regional
            found = _confirmed(frames, fps, regional, reference_loader, candidates, hidden_share, passes, timed)
        if found or framed is False:
            return found
    for similarity, framing in _framings(frames, fps, index, first, passes)[:FRAMINGS_SEARCHED]:
        if framing == IDENTITY and first:
            continue  # searched already at the usual gate, and nothing it found agreed
        if framing not in passes.shown:
            passes.shown[framing] = [framing.apply(frame) for frame in frames]
        shown: Sequence[np.ndarray] = passes.shown[framing]
        gate = min(MATCH_SIMILARITY, similarity - SIMILARITY_SLACK)
        if (framing, gate) not in passes.searched:
            passes.searched[framing, gate] = index.search(shown, fps, k=SHORTLIST_ROWS, similarity=gate)
        matches = passes.searched[framing, gate]
        if framing.pads:  # a crop: found put back in the picture, confirmed and read as it is
            shown, framing = frames, IDENTITY
        found = _confirmed(shown, fps, matches, reference_loader, candidates, hidden_share, passes, timed)
        if found:
            return [replace(alignment, framing=framing) for alignment in found]
    return []


def framed_first(
    frames: Sequence[np.ndarray], fps: float, index: FingerprintIndex, matches: Sequence[SourceMatch], passes: Passes
) -> bool:
    """Whether a framing (a box, a turn, a screen) resembles the stored pictures clearly better than the copy as it
    is, so that its framings are worth searching before the copy is aligned as it is, with and without captions.

    A picture on a canvas over its own blurred enlargement resembles its source as it is, too little to align;
    aligning it so, then with captions left out, cost a trace a minute before its box was searched.

    A copy under captions and stickers also resembles its source too little as a whole; cell by cell it shows, so its
    regional search (kept for the pass with captions left out) spares it the probe of every framing (5 of the 20 CPU
    seconds of a tuning occlusion drill)."""
    if matches and max(m.score for m in matches) >= FRAMED_BELOW:
        return False
    if passes.regional is None:
        passes.regional = index.search(frames, fps, k=SHORTLIST_ROWS, regional=True)
    if passes.regional and max(m.score for m in passes.regional) >= FRAMED_BELOW:
        return False
    _framings(frames, fps, index, matches, passes)
    if not passes.framings or passes.framings[0][1] == IDENTITY:
        return False
    as_is = next((similarity for similarity, framing in passes.framings if framing == IDENTITY), 0.0)
    return passes.framings[0][0] >= max(FRAMED_PROBE, as_is + FRAMED_MARGIN)


def _framings(
    frames: Sequence[np.ndarray], fps: float, index: FingerprintIndex, matches: Sequence[SourceMatch], passes: Passes
) -> list[tuple[float, Framing]]:
    """The framings worth searching, probed once per trace: only those closer to the store than the copy as it is.

    A framing whose probe resembles the stored pictures no better than the copy's own best match (whole, or cell by
    cell) is a wrong box, turn or mirror: the copy as it is was already searched and confirmed at that likeness. So
    the probe's floor is that match, and the store's groups below it are not scored: another bed's copy under
    stickers, whose own regional match was 0.92 and whose framings probed 0.78-0.79, spent 0.9 of its 12 CPU seconds
    scoring them (tuning control seed 2)."""
    if passes.framings is None:
        closest = max((m.score for m in [*matches, *(passes.regional or [])]), default=0.0)
        passes.framings = framings(frames, fps, index, floor=closest)
    return passes.framings


def _confirmed(
    frames: Sequence[np.ndarray],
    fps: float,
    matches: Sequence[SourceMatch],
    reference_loader: ReferenceLoader,
    candidates: int,
    hidden_share: float,
    passes: Passes,
    timed: bool = True,
) -> list[Alignment]:
    by_source: dict[str, list[SourceMatch]] = {}
    for match in matches:
        if match.source_id in by_source or len(by_source) < candidates:
            by_source.setdefault(match.source_id, []).append(match)
    found: list[Alignment] = []
    sources = []
    for source_id, shortlist in by_source.items():
        references = References(reference_loader, source_id)

        def cached(_: str, index: int, references: References = references) -> list[np.ndarray]:
            return references(index)

        # `frames` is the caller's list or one of `passes.shown`, which live as long as `passes`.
        mapped = (id(frames), source_id, tuple(m.offset for m in shortlist))
        # A still, periodic scene can mislead the mapping (a line at half the pace), so the copy is also aligned as it
        # is, and the reading settles which holds (cradle.media.trace.trace).
        aligned = (*mapped, hidden_share)
        if aligned not in passes.aligned:
            # A source that cannot agree as well as one that agrees everywhere is not sharpened (`align`).
            bar = _ruled_out(frames, hidden_share, passes)
            passes.aligned[aligned] = align(frames, fps, shortlist, cached, hidden_share, agrees_above=bar)
        sources.append((source_id, shortlist, references, cached, mapped, aligned, passes.aligned[aligned]))
    ruled_out = _ruled_out(frames, hidden_share, passes)
    for source_id, shortlist, references, cached, mapped, aligned, alignment in sources:
        if alignment is not None and ruled_out is not None and alignment.agreement < ruled_out:
            continue
        if alignment is not None:
            found.append(alignment)
        if not timed or (passes.steady and mapped not in passes.mapped):
            continue
        if mapped not in passes.mapped:
            homography = _registration(frames, fps, shortlist, references)
            passes.mapped[mapped] = map_time(frames, fps, shortlist, references, homography)
        pieces = passes.mapped[mapped]
        if pieces and not plain(pieces) and aligned not in passes.timed:
            # At the camera's pace the copy as it is pairs each frame with the instant it shows, so its registration
            # is as sharp as a piece's own; sped up or slowed down, its pairs are of other instants and it is not.
            paced = alignment if all(abs(p.rate - 1) <= SAME_PACE for p in pieces) else None
            passes.timed[aligned] = _timed(frames, fps, source_id, pieces, cached, hidden_share, paced)
        found += passes.timed.get(aligned, [])
    # Sources by how well their pictures agree; within one source the copy aligned as it is comes first.
    best: dict[str, float] = {}
    for alignment in found:
        best[alignment.source_id] = max(best.get(alignment.source_id, -2.0), alignment.agreement)
    return sorted(found, key=lambda a: (-best[a.source_id], a.source_id, a.piece is not None, -a.agreement))


def _ruled_out(frames: Sequence[np.ndarray], hidden_share: float, passes: Passes) -> float | None:
    """The agreement below which a source shows another picture than the copy's: with nothing left out, a source
    whose picture agrees everywhere rules out those that agree clearly less, among them those aligned by an earlier
    pass over fewer candidates (AGREES_EVERYWHERE); None while no source agrees everywhere."""
    everywhere = max(
        (a.agreement for k, a in passes.aligned.items() if k[0] == id(frames) and k[3] == hidden_share and a),
        default=-1.0,
    )
    return None if hidden_share or everywhere < AGREES_EVERYWHERE else everywhere - DISAGREES_BY


def _registration(
    frames: Sequence[np.ndarray], fps: float, shortlist: Sequence[SourceMatch], references: References
) -> np.ndarray:
    """Suspect → reference homography from a few frames at the shortlist's first offset (a still scene needs no
    exact time for this), or plain rescaling."""
    pairs = []
    for i in np.linspace(0, len(frames) - 1, 3).round().astype(int):
        source_time = i / fps + shortlist[0].offset
        segment = references(max(0, math.floor(source_time / SEGMENT_SECONDS)))
        if segment:
            pairs.append((frames[i], segment[min(len(segment) - 1, int((source_time % 1) * len(segment)))]))
    reference = pairs[0][1] if pairs else None
    if reference is None:
        return np.eye(3)
    homography, _ = estimate_homography(pairs)
    if homography is None:
        homography = rescale_homography(frames[0].shape[1::-1], reference.shape[1::-1])
    return homography


def _timed(
    frames: Sequence[np.ndarray],
    fps: float,
    source_id: str,
    pieces: Sequence[Piece],
    loader: ReferenceLoader,
    hidden_share: float,
    registered: Alignment | None = None,
) -> list[Alignment]:
    """One alignment per piece of the time mapping, each of the piece re-timed to the camera's pace. Re-timing picks
    frames but moves no pixel, so a `registered` alignment of the copy as it is lends every piece its homography."""
    first = loader(source_id, max(0, math.floor(pieces[0].offset / SEGMENT_SECONDS)))
    pace = len(first) / SEGMENT_SECONDS if first else 0.0
    if not pace:
        return []
    found = []
    for piece in pieces:
        shown, begins = retime(frames, fps, piece, pace)
        alignment = align(shown, pace, [SourceMatch(source_id, begins, 1.0, 1.0)], loader, hidden_share, registered)
        if alignment is not None:
            found.append(replace(alignment, piece=piece, pace=pace))
    return found


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
