"""Time as a mapping: source time = rate x suspect time + offset, piece by piece for a copy cut and spliced.

A re-published copy may be sped up or slowed down, lose or repeat frames, and be cut into parts put back together. Each
suspect frame is matched with the reference frames it resembles most in what changes from frame to frame (breathing, the
monitor's trace, the camera's shake); a robust line fit through those matches gives the copy's pace. With that pace
each suspect frame is then followed to the camera frame it shows (cradle.media.trace.frame_path), which copes with
lost and repeated frames; the path's splices cut it into pieces. Each piece is re-timed onto the camera's own frame
times for the alignment, and the reading reads every mark unit from the suspect frames that show an instant inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from cradle.media.fingerprint import SEGMENT_SECONDS, SourceMatch
from cradle.media.trace.frame_path import follow, runs
from cradle.media.trace.references import References

MATCH_SIZE = (160, 120)  # width, height at which registered frames are compared (the camera's shake shows)
MIN_RATE, MAX_RATE = 0.45, 2.2
MIN_PIECE = 0.2  # share of the suspect's frames a piece must explain
MIN_PIECE_SECONDS = 2.0
MAX_PIECES = 3
# A single piece this close to the camera's pace is left to the alignment as it is (no re-timing).
PLAIN_RATE = 0.003
SEARCH_MARGIN = 2.0  # seconds of source loaded beyond what the shortlist's offsets and the rates reach
PATH_BLUR = 2.0  # pixels (at MATCH_SIZE) of blur before frames are followed: the camera's shake repeats every 2 s

_Item = TypeVar("_Item")  # a frame, or its position in the copy


@dataclass(frozen=True, slots=True)
class Piece:
    """Suspect times [start, stop) show source time = rate x suspect time + offset; where the piece was followed frame
    by frame, `shown` holds the source time of each of its suspect frames (lost and repeated frames included)."""

    start: float
    stop: float
    rate: float
    offset: float
    shown: tuple[float, ...] = ()

    def source(self, suspect_time: float) -> float:
        return self.rate * suspect_time + self.offset

    def first_frame(self, fps: float) -> int:
        """The suspect frame `shown` starts at."""
        return round(self.start * fps)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _changes(vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What changes from frame to frame inside `mask`: the rows less their mean, centred and of unit norm."""
    moving = vectors[:, mask] - vectors[:, mask].mean(axis=0, keepdims=True)
    moving -= moving.mean(axis=1, keepdims=True)
    return moving / np.maximum(np.linalg.norm(moving, axis=1, keepdims=True), 1e-6)


def map_time(
    frames: Sequence[np.ndarray],
    fps: float,
    matches: Sequence[SourceMatch],
    references: References,
    homography: np.ndarray,
) -> list[Piece]:
    """The pieces of the suspect's time mapping onto the source of `matches`, in suspect order; [] when no line
    explains enough of the suspect. `homography` registers suspect pixels onto the reference (a still scene's
    registration needs no exact time), so that frames are compared where the camera's shake shows."""
    if not matches or len(frames) < fps * MIN_PIECE_SECONDS:
        return []
    duration = len(frames) / fps
    offsets = [m.offset for m in matches]
    first = max(0, math.floor((min(offsets) - SEARCH_MARGIN) / SEGMENT_SECONDS))
    last = math.floor((max(offsets) + duration * MAX_RATE + SEARCH_MARGIN) / SEGMENT_SECONDS)
    times, images = [], []
    for index in range(first, last + 1):
        segment = references(index)
        times += [index * SEGMENT_SECONDS + j * SEGMENT_SECONDS / len(segment) for j in range(len(segment))]
        images += segment
    if len(images) < 2 * fps:
        return []
    source_times = np.asarray(times)
    frame_seconds = float(np.median(np.diff(source_times)))
    height, width = images[0].shape[:2]
    scale = np.diag([MATCH_SIZE[0] / width, MATCH_SIZE[1] / height, 1.0])
    small = scale @ homography
    inside = cv2.warpPerspective(np.ones(_grey(frames[0]).shape, np.uint8), small, MATCH_SIZE, flags=cv2.INTER_NEAREST)
    mask = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool).ravel()
    if mask.mean() < 0.3:
        return []
    warped = [cv2.warpPerspective(_grey(f), small, MATCH_SIZE, flags=cv2.INTER_AREA) for f in frames]
    resized = [cv2.resize(_grey(i), MATCH_SIZE, interpolation=cv2.INTER_AREA) for i in images]
    seen = [image.ravel() for image in warped]
    known = [image.ravel() for image in resized]
    suspect = _changes(np.asarray(seen, np.float32), mask)
    reference = _changes(np.asarray(known, np.float32), mask)
    similarity = suspect @ reference.T
    # What a frame's true match stands out from: its typical similarity to every reference frame (a still scene with
    # a periodic shake and breathing resembles itself all the time).
    excess = similarity - np.median(similarity, axis=1, keepdims=True)
    # Only a frame's few best matches count, so that a wrong line cannot gather many middling ones.
    excess = np.maximum(excess - 0.5 * excess.max(axis=1, keepdims=True), 0.0)
    t = np.arange(len(frames)) / fps
    pace = 1 / frame_seconds
    pieces: list[Piece] = []
    free = np.ones(len(frames), bool)
    for _ in range(MAX_PIECES):
        found = _best_line(excess, t, free, pace)
        if found is None:
            break
        rate, shift, support = found
        run = _longest_run(support & free, round(fps / 2))
        if run is None or (run[1] - run[0]) / fps < MIN_PIECE_SECONDS or run[1] - run[0] < MIN_PIECE * len(frames):
            break
        offset = source_times[0] + shift / pace
        pieces.append(Piece(run[0] / fps, run[1] / fps, rate, offset))
        free[run[0] : run[1]] = False
        if free.mean() < MIN_PIECE:
            break
    if not pieces:
        return []
    # The line gives the pace; the frames are then followed one by one (cradle.media.trace.frame_path).
    suspect_rows, reference_rows = (
        np.stack([cv2.GaussianBlur(i, (0, 0), PATH_BLUR).ravel()[mask] for i in group]).astype(np.float32)
        for group in (warped, resized)
    )
    guide = np.full(len(frames), -1)
    for piece in pieces:
        shown_here = (t >= piece.start) & (t < piece.stop)
        source = piece.rate * t[shown_here] + piece.offset  # (Piece.source, for every frame of the piece at once)
        guide[shown_here] = np.round((source - source_times[0]) * pace).astype(int)
    path = follow(suspect_rows, reference_rows, fps, pieces[0].rate, pace, guide)
    followed = []
    for start, stop in runs(path, fps, pieces[0].rate, pace):
        if (stop - start) / fps < MIN_PIECE_SECONDS or stop - start < MIN_PIECE * len(frames):
            continue
        shown = source_times[0] + path[start:stop] / pace
        rate, offset = np.polyfit(t[start:stop], shown, 1)
        followed.append(Piece(start / fps, stop / fps, float(rate), float(offset), tuple(map(float, shown))))
    return followed or sorted(pieces, key=lambda p: p.start)


def _best_line(excess: np.ndarray, t: np.ndarray, free: np.ndarray, pace: float):
    """The line (rate, shift in reference frames) along which the free suspect frames stand out most, coarse then
    fine, and which frames support it; or None."""
    rows = np.flatnonzero(free)
    if len(rows) < 10:
        return None
    count = excess.shape[1]
    # Only a frame's few best matches are above zero, so each of them votes for the shift that puts its line through
    # it, for every rate at once; the sums are those of every frame along every line.
    voters, columns = np.nonzero(excess[rows])
    weights = excess[rows[voters], columns]

    def best_of(rates: np.ndarray) -> tuple[float, float, int]:
        """The rate (first of any tie) whose best line stands out most: its total, the rate, and the shift."""
        found = (-1.0, float(rates[0]), 0)
        for part in np.array_split(rates, max(1, len(rates) * max(1, len(columns)) // 2_000_000 + 1)):
            base = np.round(part[:, None] * t[rows][None, :] * pace).astype(int)
            lowest = base.max(axis=1)  # shifts run from -lowest, as far back as a line still reaches a frame
            width = int(lowest.max()) + count
            bins = columns[None, :] - base[:, voters] + lowest[:, None] + width * np.arange(len(part))[:, None]
            totals = np.bincount(bins.ravel(), np.broadcast_to(weights, bins.shape).ravel(), width * len(part))
            totals = totals.reshape(len(part), width)
            for rate, total, first in zip(part, totals, lowest, strict=True):
                k = int(np.argmax(total[: first + count]))
                if total[k] > found[0]:
                    found = (float(total[k]), float(rate), k - int(first))
        return found

    best = best_of(np.exp(np.arange(np.log(MIN_RATE), np.log(MAX_RATE), 0.003)))
    fine = best_of(best[1] * np.exp(np.arange(-0.003, 0.0031, 0.0005)))
    if fine[0] > best[0]:
        best = fine
    _, rate, shift = best
    columns = np.round(rate * t * pace).astype(int) + shift
    valid = (columns >= 0) & (columns < count)
    along = np.where(valid, excess[np.arange(len(t)), np.clip(columns, 0, count - 1)], -np.inf)
    # A frame supports the line when its match there stands out as much as its best anywhere nearly does.
    support = valid & (along > 0)
    return rate, shift, support


def _longest_run(support: np.ndarray, gap: int) -> tuple[int, int] | None:
    """The longest stretch of frames where support lapses for no more than `gap` frames at a time."""
    best: tuple[int, int] | None = None
    start = last = -1
    for i in map(int, np.flatnonzero(support)):
        if start < 0 or i - last > gap:
            start = i
        last = i
        if best is None or last + 1 - start > best[1] - best[0]:
            best = (start, last + 1)
    return best


def plain(pieces: Sequence[Piece]) -> bool:
    """Whether the mapping is one line at the camera's pace (a constant offset, which the alignment finds alone).

    A piece followed frame by frame is never plain: it is read beside the copy as it is, and the reading that reads
    more holds (a copy at the camera's pace may still drift, lose or repeat frames, and one offset may alias)."""
    return len(pieces) == 1 and not pieces[0].shown and abs(pieces[0].rate - 1) < PLAIN_RATE


def retime(frames: Sequence[_Item], fps: float, piece: Piece, camera_fps: float) -> tuple[list[_Item], float]:
    """The piece's frames at the camera's pace: for each camera frame time the piece covers, the suspect frame that
    shows it (or comes nearest); and the source time of the first one."""
    if piece.shown:
        times = np.asarray(piece.shown)
        first = math.ceil(times.min() * camera_fps - 1e-6)
        last = math.floor(times.max() * camera_fps + 1e-6)
        at = piece.first_frame(fps)
        nearest = [int(np.argmin(np.abs(times - n / camera_fps))) for n in range(first, last + 1)]
        return [frames[min(len(frames) - 1, at + k)] for k in nearest], first / camera_fps
    first = math.ceil(piece.source(piece.start) * camera_fps - 1e-6)
    last = math.floor(piece.source(piece.stop) * camera_fps - 1e-6)
    shown: list[_Item] = []
    for n in range(first, last + 1):
        suspect_time = (n / camera_fps - piece.offset) / piece.rate
        shown.append(frames[min(len(frames) - 1, max(0, round(suspect_time * fps)))])
    return shown, first / camera_fps
