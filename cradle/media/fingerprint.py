"""Perceptual fingerprints of 1 s segments, and the index that finds where a suspect clip came from.

A segment's fingerprint is three tiny grey thumbnails taken at a sixth, a half and five sixths of the second. Each
thumbnail drops a margin (so a crop of a few per cent moves little), is averaged down to 12 x 9 (so re-encoding and
rescaling do not matter), and is mean-removed and unit-norm (so brightness, contrast and colour changes do not
matter). A suspect clip is cut into overlapping 1 s windows, fingerprinted the same way, and every window votes for the
stored segments it resembles; the (source, time offset) that collects most votes is the match. Captions and stickers
over part of the picture lower that one global likeness, so a suspect may also be searched region by region
(cradle.media.regions), from the same stored fingerprints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (12, 9)  # width, height
# Share of each side left out before averaging down: larger than the 3 % a side of a 6 % crop.
MARGIN = 0.1
POSITIONS = (1 / 6, 1 / 2, 5 / 6)  # where in a segment the thumbnails are taken, as shares of a second
DIMENSIONS = THUMB_SIZE[0] * THUMB_SIZE[1] * len(POSITIONS)
SEGMENT_SECONDS = 1.0
# Cosine similarity below which a suspect window is taken to show none of the stored segments. Re-encoded, cropped,
# brightened copies of a simulated bed stay above 0.98 at 12 x 9; another bed in the same kind of room scores as high,
# which is why tracing confirms every candidate against its reference frames (cradle.media.trace.align).
MATCH_SIMILARITY = 0.85
# Offsets are voted for in bins of this many seconds; a window between two segment starts splits its vote.
OFFSET_BIN = 1 / 3
_CHUNK_ROWS = 65_536
# The regional search (cradle.media.regions) scores this many of the suspect's windows, spread over the clip: each costs
# a dozen correlations per stored segment, and a few dozen consistent votes already pick a source out.
REGIONAL_WINDOWS = 24
# Regional similarity at which a window votes. Occluded copies of tuning drills 20-50 scored at least 0.80 with their
# source (the median of their windows), the best of 300,000 random stored scenes at most 0.75.
REGIONAL_SIMILARITY = 0.77
# A source's segments (a still camera's seconds, nearly alike) are bounded together this many at a time: a search first
# scores each group's mean, and scores in full only the rows of groups whose bound reaches its gate (`_Groups`).
GROUP_ROWS = 32
# Float16 rows and float32 sums round a little: a bound this much looser prunes no row that scores at the gate.
BOUND_SLACK = 1e-3


def _centre_weights() -> np.ndarray:
    width, height = THUMB_SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    # Gentle: the corners count half as much as the middle, where a crop cannot reach.
    r2 = ((xs - (width - 1) / 2) / width) ** 2 + ((ys - (height - 1) / 2) / height) ** 2
    return np.exp(-r2 / 0.35).ravel()


_WEIGHTS = _centre_weights()


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A frame's 12 x 9 grey thumbnail without its margin, mean-removed and unit-norm (float32, flat)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    height, width = grey.shape[:2]
    dx, dy = round(width * MARGIN), round(height * MARGIN)
    inner = grey[dy : height - dy, dx : width - dx]
    small = cv2.resize(inner, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small = (small - small.mean()) * _WEIGHTS
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 1e-6 else small


def _window(thumbs: np.ndarray, times: np.ndarray, start: float) -> np.ndarray:
    picks = [int(np.argmin(np.abs(times - (start + p * SEGMENT_SECONDS)))) for p in POSITIONS]
    vector = thumbs[picks].ravel()
    return vector / np.sqrt(len(POSITIONS))


def fingerprint_segment(frames: Sequence[np.ndarray]) -> np.ndarray:
    """The fingerprint of one segment from its frames (BGR or grey, any size): float16, 324 values, 648 bytes.

    The worker calls this on the reference frames as it encodes; the thumbnails are taken at fixed shares of the
    segment, so a shorter last segment is fingerprinted over what it has.
    """
    if not frames:
        raise ValueError("a segment needs at least one frame to be fingerprinted")
    count = len(frames)
    picks = [min(count - 1, int(p * count)) for p in POSITIONS]
    vector = np.concatenate([thumbnail(frames[i]) for i in picks]) / np.sqrt(len(POSITIONS))
    return vector.astype(np.float16)


def suspect_windows(frames: Sequence[np.ndarray], fps: float, step: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprints of the suspect's 1 s windows starting every `step` frames, and their start times in seconds."""
    if fps <= 0:
        raise ValueError("the suspect's frame rate must be positive")
    thumbs = np.stack([thumbnail(frame) for frame in frames]) if frames else np.zeros((0, DIMENSIONS // 3))
    times = np.arange(len(frames)) / fps
    duration = len(frames) / fps
    starts = [i / fps for i in range(0, len(frames), step) if i / fps + SEGMENT_SECONDS <= duration + 1e-9]
    if not starts:
        return np.zeros((0, DIMENSIONS), np.float32), np.zeros(0)
    windows = np.stack([_window(thumbs, times, start) for start in starts]).astype(np.float32)
    return windows, np.asarray(starts)


@dataclass(frozen=True, slots=True)
class SourceMatch:
    """Where a suspect clip came from: source time = suspect time + offset (seconds; segment i starts at i s)."""

    source_id: str
    offset: float
    score: float  # mean similarity of the windows that voted for this match
    support: float  # share of the suspect's windows that voted for it

    def segment_at(self, suspect_time: float) -> tuple[int, float]:
        """The source segment shown at `suspect_time`, and the time into that segment in seconds."""
        source_time = suspect_time + self.offset
        index = int(np.floor(source_time / SEGMENT_SECONDS))
        return index, source_time - index * SEGMENT_SECONDS


class FingerprintIndex:
    """Every stored segment's fingerprint in one float16 matrix, searched by cosine similarity in float32 chunks."""

    def __init__(self, capacity: int = 1024) -> None:
        self._matrix = np.zeros((capacity, DIMENSIONS), np.float16)
        self._sources: list[str] = []
        self._source_of: dict[str, int] = {}
        self._row_source = np.zeros(capacity, np.int32)
        self._row_segment = np.zeros(capacity, np.int32)
        self._rows = 0
        self._cells = np.zeros((0, 0, 0), np.float16)  # per-cell vectors of the first rows, made when first searched
        self._groups: _Groups | None = None  # made when first searched, again once rows were added

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, np.ndarray]]) -> FingerprintIndex:
        """An index of (source_id, segment_index, fingerprint) rows, as the segment table keeps them."""
        rows = list(rows)
        index = cls(max(1, len(rows)))
        for source_id, segment, fingerprint in rows:
            index.add(source_id, segment, fingerprint)
        return index

    def __len__(self) -> int:
        return self._rows

    def add(self, source_id: str, segment: int, fingerprint: np.ndarray) -> None:
        """Add one segment's fingerprint."""
        if fingerprint.shape != (DIMENSIONS,):
            raise ValueError(f"a fingerprint has {DIMENSIONS} values; this one has shape {fingerprint.shape}")
        if self._rows == len(self._matrix):
            grow = len(self._matrix)
            self._matrix = np.concatenate([self._matrix, np.zeros((grow, DIMENSIONS), np.float16)])
            self._row_source = np.concatenate([self._row_source, np.zeros(grow, np.int32)])
            self._row_segment = np.concatenate([self._row_segment, np.zeros(grow, np.int32)])
        if source_id not in self._source_of:
            self._source_of[source_id] = len(self._sources)
            self._sources.append(source_id)
        row = self._rows
        self._matrix[row] = fingerprint
        self._row_source[row] = self._source_of[source_id]
        self._row_segment[row] = segment
        self._rows += 1

    def _scores(self, windows: np.ndarray, regional: bool, floor: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rows, similarities of every window to those rows) chunk by chunk over the rows that may reach `floor` with
        some window; the rows left out score below it with every window (`_Groups.rows`)."""
        from cradle.media import regions

        groups = self._grouped()
        rows = groups.rows(windows, regional, floor)
        stored = self._cell_rows() if regional else self._matrix
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start : start + _CHUNK_ROWS]
            if regional:
                yield chunk, regions.scores(windows, stored[chunk].astype(np.float32))
            else:
                yield chunk, windows @ stored[chunk].astype(np.float32).T

    def prepare(self) -> FingerprintIndex:
        """Make what every search prunes with (each group's bounds, whole and cell by cell) now, once for the index,
        rather than in the first search after rows were added; gives the index.

        An index that serves several traces is prepared when it is built, so no trace pays for the store's bounds
        (5-7 CPU seconds for 300,000 rows, a third of an unmarked copy's trace)."""
        self._grouped().cell_bounds()
        return self

    def _grouped(self) -> _Groups:
        if self._groups is None or self._groups.covered != self._rows:
            self._groups = _Groups(self)
        return self._groups

    def _top(self, windows: np.ndarray, k: int, regional: bool, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Per window, the k most similar rows of those at least `floor` similar, and their similarities, best first
        (padded with -inf); `regional` compares the windows' cells (cradle.media.regions) with the rows' instead of
        whole fingerprints. These are the k best rows of the store less those below the floor, found without ranking
        the whole store, most of which resembles the suspect not at all."""
        found_windows, found_rows, found_scores = [], [], []
        for chunk, scores in self._scores(windows, regional, floor):
            w, r = np.nonzero(scores >= floor)
            found_windows.append(w)
            found_rows.append(chunk[r])
            found_scores.append(scores[w, r])
        if not found_windows:
            return np.zeros((len(windows), 1), np.int64), np.full((len(windows), 1), -np.inf, np.float32)
        window = np.concatenate(found_windows)
        row = np.concatenate(found_rows).astype(np.int64)
        score = np.concatenate(found_scores).astype(np.float32)
        order = np.lexsort((-score, window))  # by window, then best first
        window, row, score = window[order], row[order], score[order]
        rank = np.arange(len(window)) - np.searchsorted(window, window)
        kept = rank < k
        width = max(1, int(rank[kept].max()) + 1) if kept.any() else 1
        rows = np.zeros((len(windows), width), np.int64)
        similarities = np.full((len(windows), width), -np.inf, np.float32)
        rows[window[kept], rank[kept]] = row[kept]
        similarities[window[kept], rank[kept]] = score[kept]
        return rows, similarities

    def _cell_rows(self) -> np.ndarray:
        """Every row's per-cell vectors (float16), made for the rows added since the last regional search."""
        from cradle.media import regions

        done = len(self._cells)
        if done < self._rows:
            made = [
                regions.cells(self._matrix[start : min(self._rows, start + _CHUNK_ROWS)]).astype(np.float16)
                for start in range(done, self._rows, _CHUNK_ROWS)
            ]
            self._cells = np.concatenate([self._cells.reshape(done, *made[0].shape[1:]), *made])
        return self._cells

    def best_similarity(self, windows: np.ndarray, floor: float = -1.0) -> np.ndarray:
        """The similarity of each window (rows of `suspect_windows`) to its most similar stored segment; where that is
        below `floor`, some value below `floor` (-1 when no row was scored), as the rows that cannot reach it are not
        scored."""
        if not len(windows) or not self._rows:
            return np.zeros(len(windows), np.float32)
        windows = np.asarray(windows, np.float32)
        best = np.full(len(windows), -1.0, np.float32)
        for _, scores in self._scores(windows, False, floor):
            best = np.maximum(best, scores.max(axis=1))
        return best

    def search(
        self,
        frames: Sequence[np.ndarray],
        fps: float,
        k: int = 8,
        step: int = 3,
        similarity: float | None = None,
        regional: bool = False,
    ) -> list[SourceMatch]:
        """Candidate sources of a suspect clip, best first; empty when nothing stored resembles it ("no match").

        Each suspect window votes once per (source, offset bin) for its most similar stored segments above
        `similarity` (MATCH_SIMILARITY, or REGIONAL_SIMILARITY when `regional`). A still ward scene makes neighbouring
        segments look alike, so the offset is only as good as the picture's motion; tracing refines it against the
        reference frames. With `regional`, REGIONAL_WINDOWS windows are compared cell by cell (cradle.media.regions),
        so captions and stickers over a fifth of the picture do not hide its source.
        """
        windows, starts = suspect_windows(frames, fps, step)
        if not len(windows) or not self._rows:
            return []
        if regional:
            from cradle.media import regions

            picks = np.unique(np.linspace(0, len(windows) - 1, REGIONAL_WINDOWS).round().astype(int))
            starts = starts[picks]
            windows = regions.cells(windows[picks])
        if similarity is None:
            similarity = REGIONAL_SIMILARITY if regional else MATCH_SIMILARITY
        rows, scores = self._top(windows, min(k, self._rows), regional, similarity)
        votes: dict[tuple[int, int], dict[int, tuple[float, float]]] = defaultdict(dict)
        for w, start in enumerate(starts):
            for row, score in zip(rows[w], scores[w], strict=True):
                if score < similarity:
                    break
                offset = float(self._row_segment[row]) * SEGMENT_SECONDS - start
                key = (int(self._row_source[row]), round(offset / OFFSET_BIN))
                if w not in votes[key] or votes[key][w][0] < score:
                    votes[key][w] = (float(score), offset)
        matches = []
        for (source, _), by_window in votes.items():
            found = np.array(list(by_window.values()))
            matches.append(
                SourceMatch(
                    source_id=self._sources[source],
                    offset=float(np.average(found[:, 1], weights=found[:, 0])),
                    score=float(found[:, 0].mean()),
                    support=len(found) / len(windows),
                )
            )
        matches.sort(key=lambda m: m.score * m.support, reverse=True)
        return matches


class _Groups:
    """The index's rows, a source's GROUP_ROWS consecutive segments at a time, each group with its mean and the
    distance of its farthest row from that mean, whole and cell by cell (cradle.media.regions).

    For a window w (norm at most 1), a row r of a group with mean c and radius d: w . r = w . c + w . (r - c), at most
    w . c + d. Cell by cell alike, and a regional score, the mean of the best cells, is at most that of the cells'
    bounds. So the groups whose bound stays below a search's gate for every window hold no row that reaches it, and
    their rows need not be scored: a random scene's group is bounded near 0.6, a ward's next to 1. The rows scored
    are exactly those the full search would keep; it only costs less (a 300,000-row store: the global search of a
    15 s copy 0.8 -> 0.1 CPU s, a regional one 2.6 -> 0.3).
    """

    def __init__(self, index: FingerprintIndex) -> None:
        count = self.covered = index._rows
        sources, segments = index._row_source[:count], index._row_segment[:count]
        self.order = np.lexsort((segments, sources)).astype(np.int64)
        ordered = sources[self.order]
        runs = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1] if count else np.zeros(0, np.int64)
        within = np.arange(count) - np.repeat(runs, np.diff(np.r_[runs, count]))
        self.starts = np.flatnonzero(within % GROUP_ROWS == 0)
        self.stops = np.r_[self.starts[1:], count]
        self._index = index
        self.centre, self.radius = self._bounded(index._matrix)
        self._cells: tuple[np.ndarray, np.ndarray] | None = None

    def _bounded(self, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each group's mean of `stored` rows and its farthest row's distance from it (per cell for cells)."""
        centres, radii = [], []
        per_block = max(1, _CHUNK_ROWS // GROUP_ROWS)
        for first in range(0, len(self.starts), per_block):
            starts = self.starts[first : first + per_block]
            begin, end = int(starts[0]), int(self.stops[first + len(starts) - 1])
            values = stored[self.order[begin:end]].astype(np.float32)
            local = starts - begin
            counts = np.diff(np.r_[local, end - begin]).reshape(-1, *[1] * (values.ndim - 1))
            centre = np.add.reduceat(values, local, axis=0) / counts
            spread = np.linalg.norm(values - np.repeat(centre, counts.ravel(), axis=0), axis=-1)
            centres.append(centre)
            radii.append(np.maximum.reduceat(spread, local, axis=0))
        if not centres:
            return np.zeros((0, *stored.shape[1:]), np.float32), np.zeros(0, np.float32)
        return np.concatenate(centres), np.concatenate(radii) + BOUND_SLACK

    def cell_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each group's mean and radius cell by cell (made on first use: only regional searches need them)."""
        if self._cells is None:
            self._cells = self._bounded(self._index._cell_rows())
        return self._cells

    def rows(self, windows: np.ndarray, regional: bool, floor: float) -> np.ndarray:
        """The rows (sorted) of the groups that some window may reach `floor` in."""
        from cradle.media import regions

        if not len(self.starts):
            return np.zeros(0, np.int64)
        if regional:
            centre, radius = self.cell_bounds()
            per_cell = np.matmul(windows.transpose(1, 0, 2), centre.transpose(1, 2, 0)) + radius.T[:, None, :]
            bound = regions.best_cells(np.minimum(per_cell, 1.0))
        else:
            bound = windows @ self.centre.T + self.radius
        live = np.flatnonzero(bound.max(axis=0) >= floor)
        if not len(live):
            return np.zeros(0, np.int64)
        picked = np.concatenate([self.order[a:b] for a, b in zip(self.starts[live], self.stops[live], strict=True)])
        return np.sort(picked)
