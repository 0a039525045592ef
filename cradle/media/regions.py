"""Regional fingerprint similarity: the picture compared cell by cell, so that what covers part of it cannot hide it.

A re-published copy may carry captions, stickers and a logo over a fifth of the picture. One global thumbnail
correlation then falls with every covered pixel, below a look-alike or below the search's gate. Here each 12 x 9
thumbnail of a fingerprint is split into a 4 x 3 grid of cells (3 x 3 pixels each; over a segment's three thumbnails,
27 values a cell, since editors' overlays stay put for the clip), every cell is correlated on its own, and a stored
segment scores the mean correlation of its best cells: the worst half of the cells, where the overlays are (and the
featureless wall a sticker's neighbours may show), does not count; or, where a cover spoils more than that, its best
third, held to a higher standard. A look-alike has to agree cell by cell as well, which a random scene rarely does.
"""

from __future__ import annotations

import numpy as np

from cradle.media.fingerprint import _WEIGHTS, POSITIONS, THUMB_SIZE

GRID = (4, 3)  # cells across and down the 12 x 9 thumbnail
CELLS = GRID[0] * GRID[1]
# Worst-agreeing cells left out of a score: a caption across the picture, two stickers and a logo touch up to seven
# cells, and a flat cell (a bare wall) agrees with nothing. With four left out, a sticker over the infant and a caption
# across the monitor kept tuning drill 35 at 0.62, below every look-alike; with six it scores 0.80, and the best of
# the 300,000 synthetic scenes 0.75 (the real look-alikes, the other beds of the room, are told apart by the mark).
DROPPED = 6
# A caption across the lower picture, whose flat bed it darkens into a step, spoils the eight cells of two rows with a
# tenth of the picture (tuning scene 21: the best six cells' mean 0.63 to 0.70). So a window may also score by its best
# CELLS - MOST_DROPPED cells, HANDICAP less: at least 0.92 there to reach the gate of cradle.media.fingerprint, where
# the covered copies scored 0.97 and the best of 300,000 synthetic scenes at most 0.87 (tuning occlusion drills 0-11,
# and footage from elsewhere). A cover that spoils more than MOST_DROPPED cells hides the source from this search.
MOST_DROPPED = 8
HANDICAP = 0.15
CELL_VALUES = len(POSITIONS) * (THUMB_SIZE[0] // GRID[0]) * (THUMB_SIZE[1] // GRID[1])


def _cell_columns() -> np.ndarray:
    """Fingerprint columns of each cell, cell by cell, position by position: (CELLS, positions, pixels per cell)."""
    width, height = THUMB_SIZE
    cell_w, cell_h = width // GRID[0], height // GRID[1]
    pixels = width * height
    columns = np.zeros((CELLS, len(POSITIONS), cell_w * cell_h), np.int64)
    for gy in range(GRID[1]):
        for gx in range(GRID[0]):
            ys, xs = np.mgrid[gy * cell_h : (gy + 1) * cell_h, gx * cell_w : (gx + 1) * cell_w]
            flat = (ys * width + xs).ravel()
            for p in range(len(POSITIONS)):
                columns[gy * GRID[0] + gx, p] = p * pixels + flat
    return columns


_COLUMNS = _cell_columns()
_UNWEIGHT = 1 / np.tile(_WEIGHTS, len(POSITIONS)).astype(np.float32)


def cells(fingerprints: np.ndarray) -> np.ndarray:
    """Per-cell unit vectors of fingerprints (rows of the index or of `suspect_windows`): float32, (n, CELLS, 27).

    The centre weighting is undone and each cell's mean is removed per thumbnail, so a cell's correlation does not
    depend on the brightness of the rest of the picture. A flat cell stays zero and agrees with nothing.
    """
    values = np.asarray(fingerprints, np.float32) * _UNWEIGHT
    grouped = values[:, _COLUMNS]  # (n, CELLS, positions, pixels)
    grouped -= grouped.mean(axis=3, keepdims=True)
    grouped = grouped.reshape(len(values), CELLS, CELL_VALUES)
    norms = np.linalg.norm(grouped, axis=2, keepdims=True)
    return grouped / np.maximum(norms, 1e-6)


def scores(windows: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """The regional similarity of each window to each stored segment, both as `cells` gives them: (windows, stored).

    The mean correlation of the CELLS - DROPPED best-agreeing cells, or of the CELLS - MOST_DROPPED best HANDICAP less
    where that is more (`best_cells`), in -1..1."""
    return best_cells(np.matmul(windows.transpose(1, 0, 2), stored.transpose(1, 2, 0)))  # (CELLS, windows, stored)


def best_cells(per_cell: np.ndarray) -> np.ndarray:
    """The score of per-cell correlations (cells along the first axis): the mean of the CELLS - DROPPED best, or of the
    CELLS - MOST_DROPPED best less HANDICAP where that is more. Neither mean falls when a cell's value rises, so the
    score of per-cell bounds bounds the score (cradle.media.fingerprint's groups)."""
    ordered = np.partition(per_cell, (DROPPED, MOST_DROPPED), axis=0)
    return np.maximum(ordered[DROPPED:].mean(axis=0), ordered[MOST_DROPPED:].mean(axis=0) - HANDICAP)
