"""Reading: the informed detector of cradle.media.mark on every mark unit of every source segment the suspect covers.

A segment made before mark units is one unit of 1 s; a segment of MARK_UNITS units gives that many bits, each read from
the suspect frames that fall inside its unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cradle.media.fingerprint import SEGMENT_SECONDS
from cradle.media.mark import ERASURE_Z, MARK_UNITS, Variant, fade, project, residual, unit_bounds, z_score
from cradle.media.trace.mapping import retime
from cradle.media.trace.references import ReferenceLoader, References
from cradle.media.trace.registration import Registration, grey
from cradle.media.trace.timing import Alignment

# A segment is read when the suspect covers at least this share of its frames (a leak that starts mid-segment);
# a short share mostly reads as an erasure, but a clear one is one more bit, and z stays N(0, 1) by chance.
MIN_COVERAGE = 0.3
MAX_MOVE_FRAMES = 1.5  # camera frames by which the alignment may move a piece followed frame by frame
# Units read first, spread over the copy, when a reading may stop early: if none of them reads, the rest are not read.
# A copy that reads in a fifth of its units leaves all twelve unread once in 15; a copy that reads in so few could not
# name anyone (15 bits are needed), and another bed's copy, its card taken for a caption, reads at a third of the cost.
PROBE_UNITS = 12

# How many mark units a source segment has, given the source and the segment's index.
UnitCount = Callable[[str, int], int]


def current_units(source_id: str, index: int) -> int:
    """Segments made today: MARK_UNITS units each."""
    return MARK_UNITS


@dataclass(frozen=True, slots=True)
class SegmentReading:
    """The detector's verdict on one source segment seen in the suspect."""

    source_id: str
    index: int
    z: float
    suspect_start: float  # suspect time (s) at which the segment (or its unit) starts
    coverage: float  # share of the segment's (or unit's) frames the suspect shows
    unit: int = 0  # which mark unit of the segment
    units: int = 1  # mark units of the segment (1: marked whole, before units)

    @property
    def label(self) -> str:
        """The segment, and its unit where it has several: "12" or "12.1"."""
        return str(self.index) if self.units == 1 else f"{self.index}.{self.unit}"

    @property
    def variant(self) -> Variant | None:
        """The variant read, or None for an erasure (|z| below ERASURE_Z)."""
        if abs(self.z) < ERASURE_Z:
            return None
        return Variant.A if self.z > 0 else Variant.B

    @property
    def bit(self) -> str | None:
        """The variant's name ("A" or "B") for a report, or None for an erasure (Variant.A is 0, hence falsy)."""
        variant = self.variant
        return None if variant is None else variant.name


@dataclass(frozen=True, slots=True)
class _Unit:
    """One mark unit to read: which suspect frames stand in for which of its reference frames, with their weights."""

    index: int
    unit: int
    units: int
    coverage: float
    at: float  # suspect time (s) at which the unit starts
    shown: list[int]  # suspect frame of each pair
    known: list[np.ndarray]  # reference frame of each pair
    weights: np.ndarray


def read_bits(
    suspect_frames: Sequence[np.ndarray],
    suspect_fps: float,
    alignment: Alignment,
    reference_loader: ReferenceLoader,
    key: bytes,
    units: UnitCount = current_units,
    probe: bool = False,
) -> list[SegmentReading]:
    """The detector's reading of every mark unit of every source segment the suspect covers, in order; with `probe`,
    only PROBE_UNITS of them spread over the copy when none of those reads (all erasures: no bits, at a third of
    the cost).

    For each reference frame the suspect frame nearest in time stands in (a 25 or 30 fps copy of a 15 fps camera
    shows each camera frame once or twice). Frames the suspect does not reach are left out, with their weight in the
    mark's fade, so a leak starting mid-segment still reads that segment when it covers most of it.
    """
    references = References(reference_loader, alignment.source_id)
    registration = Registration(alignment.homography, alignment.hidden)
    greys: dict[int, np.ndarray] = {}
    plan = _plan(len(suspect_frames), suspect_fps, alignment, references, units)
    order = list(range(len(plan)))
    if probe and len(plan) > PROBE_UNITS:
        first = dict.fromkeys(np.linspace(0, len(plan) - 1, PROBE_UNITS).round().astype(int).tolist())
        order = [*first, *(k for k in order if k not in first)]
    readings: dict[int, SegmentReading] = {}
    for k in order:
        if probe and len(readings) == PROBE_UNITS and all(r.variant is None for r in readings.values()):
            break
        planned = plan[k]
        for i in planned.shown:
            if i not in greys:
                greys[i] = grey(alignment.framing.apply(suspect_frames[i]))
        total = residual([greys[i] for i in planned.shown], planned.known, registration, planned.weights)
        label = None if planned.units == 1 else planned.unit
        z = z_score(project(total), key, alignment.source_id, planned.index, label)
        readings[k] = SegmentReading(
            alignment.source_id, planned.index, z, planned.at, planned.coverage, planned.unit, planned.units
        )
    return [readings[k] for k in sorted(readings)]


def units_read(
    frame_count: int,
    suspect_fps: float,
    alignment: Alignment,
    reference_loader: ReferenceLoader,
    units: UnitCount = current_units,
) -> set[tuple[int, int]]:
    """The (segment, unit) pairs `read_bits` reads for a suspect of `frame_count` frames, without reading them: at
    most this many can read as bits."""
    references = References(reference_loader, alignment.source_id)
    return {(u.index, u.unit) for u in _plan(frame_count, suspect_fps, alignment, references, units)}


def _plan(
    frame_count: int, suspect_fps: float, alignment: Alignment, references: References, units: UnitCount
) -> list[_Unit]:
    """Every unit the suspect covers enough to be read, in order, with the frames that read it."""
    if not frame_count:
        return []
    positions = list(range(frame_count))
    piece = alignment.piece
    if piece is not None and piece.shown:
        return _plan_followed(positions, suspect_fps, alignment, references, units)
    if piece is not None:
        positions, _ = retime(positions, suspect_fps, piece, alignment.pace)
        suspect_fps = alignment.pace
    duration = len(positions) / suspect_fps
    first, _ = alignment.segment_at(0.0)
    last, _ = alignment.segment_at(duration)
    planned = []
    for index in range(max(0, first), last + 1):
        reference = references(index)
        if not reference:
            continue
        count = len(reference)
        start = index * SEGMENT_SECONDS - alignment.offset
        picks = [round((start + j * SEGMENT_SECONDS / count) * suspect_fps) for j in range(count)]
        bounds = unit_bounds(count, units(alignment.source_id, index))
        for unit, (low, high) in enumerate(bounds):
            shown = [j for j in range(low, high) if 0 <= picks[j] < len(positions)]
            coverage = len(shown) / (high - low)
            if coverage < MIN_COVERAGE:
                continue
            weights = fade(high - low)[[j - low for j in shown]]
            begins = index * SEGMENT_SECONDS + low * SEGMENT_SECONDS / count
            at = (begins - piece.offset) / piece.rate if piece is not None else begins - alignment.offset
            frames = [positions[picks[j]] for j in shown]
            known = [reference[j] for j in shown]
            planned.append(_Unit(index, unit, len(bounds), coverage, at, frames, known, weights))
    return planned


def _plan_followed(
    positions: list[int],
    fps: float,
    alignment: Alignment,
    references: References,
    units: UnitCount,
) -> list[_Unit]:
    """Every unit of a piece followed frame by frame, read from the suspect frames that show an instant inside it.

    Each such frame is compared with the very camera frame it shows, so lost frames leave gaps (with their weight in
    the fade) and repeated ones count twice, instead of pulling a neighbouring instant into the unit.
    """
    piece = alignment.piece
    assert piece is not None and piece.shown
    pace = alignment.pace
    _, begins = retime(positions[:1], fps, piece, pace)
    # The alignment may move the piece by a frame, which then holds; a larger move is the camera's shake repeating
    # itself, and the frame-by-frame path knows better.
    moved = alignment.offset - begins
    if abs(moved) * pace > MAX_MOVE_FRAMES:
        moved = 0.0
    camera = np.round((np.asarray(piece.shown) + moved) * pace).astype(int)
    first = piece.first_frame(fps)
    by_segment: dict[int, list[tuple[int, int]]] = {}
    for k, frame in enumerate(camera):
        if 0 <= first + k < len(positions):
            index, within = divmod(int(frame), round(pace * SEGMENT_SECONDS))
            by_segment.setdefault(index, []).append((first + k, within))
    planned = []
    for index in sorted(by_segment):
        reference = references(index) if index >= 0 else []
        if not reference:
            continue
        count = len(reference)
        bounds = unit_bounds(count, units(alignment.source_id, index))
        for unit, (low, high) in enumerate(bounds):
            pairs = [(i, j) for i, j in by_segment[index] if low <= j < high]
            coverage = len({j for _, j in pairs}) / (high - low)
            if coverage < MIN_COVERAGE:
                continue
            weights = fade(high - low)[[j - low for _, j in pairs]]
            frames = [positions[i] for i, _ in pairs]
            known = [reference[j] for _, j in pairs]
            planned.append(_Unit(index, unit, len(bounds), coverage, pairs[0][0] / fps, frames, known, weights))
    return planned
