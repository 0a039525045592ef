"""Which camera frame every suspect frame shows: a path through the frame-by-frame similarities.

A line fitted through the matches says how fast the copy runs, but a copy that lost or repeated frames drifts off any
line by a few frames, and one frame off the mark no longer reads. So the source instant of each suspect frame is
followed with a path: from one suspect frame to the next the copy moves on by one step at the copy's pace, or by none
(a repeated frame), or by two or three (lost frames), or it jumps (a splice), each at a cost; the path with the most
similarity less its costs wins (dynamic programming, on a grid of a quarter of a camera frame).

A still, drifting scene resembles itself far apart once each side is centred on its own mean, so the reference frames
are centred on the mean of the frames the path passes through, and the path is followed again until it settles.
"""

from __future__ import annotations

import itertools

import numpy as np

GRID = 4  # states per camera frame
# Costs, in units of a frame's typical similarity: one step is free, a repeated or one lost frame costs STEP_COST,
# two lost frames twice that, a quarter-frame correction NUDGE_COST, and a splice JUMP_COST.
STEP_COST = 0.3
NUDGE_COST = 0.15
JUMP_COST = 20.0
CENTRING_ROUNDS = 4


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors - vectors.mean(axis=1, keepdims=True)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)


def follow(
    suspect: np.ndarray,
    reference: np.ndarray,
    fps: float,
    rate: float,
    camera_fps: float,
    guide: np.ndarray | None = None,
) -> np.ndarray:
    """The reference frame each suspect frame shows.

    `suspect` and `reference` are rows of registered pixels (frames x pixels); `rate` is source seconds per suspect
    second, as the line fit found it. `guide`, where given, is the reference frame the line fit puts each suspect frame
    at (negative where no line does): the reference is first centred on the mean of those frames rather than on its
    own, since a copy showing a few seconds of a long, drifting reference resembles far-off frames as much as its own
    once the reference is centred on all of it.
    """
    centred = _unit_rows(suspect - suspect.mean(axis=0))
    # Each round's similarities, centred @ unit rows of (reference - centre), are one product taken once less what
    # the centre adds, over each row's norm. The reference is first taken about its own mean, so that the product
    # holds only the frames' small differences and loses nothing in float32.
    reference = reference - reference.mean(axis=0)
    product = centred @ reference.T
    sums = centred.sum(axis=1, keepdims=True)
    centre = np.zeros(reference.shape[1], reference.dtype)
    if guide is not None and np.any((guide >= 0) & (guide < len(reference))):
        centre = reference[guide[(guide >= 0) & (guide < len(reference))]].mean(axis=0)
    path = np.zeros(len(suspect), np.int64)
    for _ in range(CENTRING_ROUNDS):
        moved = reference - centre
        means = moved.mean(axis=1)
        norms = np.linalg.norm(moved - means[:, None], axis=1)
        similarity = (product - (centred @ centre)[:, None] - sums * means[None, :]) / np.maximum(norms, 1e-6)
        found = _best_path(similarity - np.median(similarity, axis=1, keepdims=True), fps, rate, camera_fps)
        settled = np.array_equal(found, path)
        path = found
        if settled:
            break
        centre = reference[np.clip(path, 0, len(reference) - 1)].mean(axis=0)
    return path


def _best_path(score: np.ndarray, fps: float, rate: float, camera_fps: float) -> np.ndarray:
    frames, count = score.shape
    states = count * GRID
    # State g is a quarter of the way through reference frame g // GRID, which it shows.
    emission = np.repeat(score, GRID, axis=1)
    scale = float(np.median(np.abs(score))) + 1e-6
    step = rate * camera_fps * GRID / fps
    base = {round(k * step): cost for k, cost in ((1, 0.0), (0, STEP_COST), (2, STEP_COST), (3, 2 * STEP_COST))}
    moves: dict[int, float] = {}
    for move, cost in base.items():
        for nudge in (-1, 0, 1):
            if move + nudge >= 0:
                total = cost + (NUDGE_COST if nudge else 0.0)
                moves[move + nudge] = min(moves.get(move + nudge, np.inf), total)
    # Every move at once: row m of `reach` is where move m comes from (the first `move` states from nowhere).
    steps = np.asarray(list(moves), np.int64)
    costs = np.asarray([moves[m] for m in steps], np.float64)[:, None] * scale
    widest = int(steps.max())
    reach = widest - steps[:, None] + np.arange(states)[None, :]
    came_from = np.arange(states)[None, :] - steps[:, None]
    padded = np.full(widest + states, -np.inf)
    total = emission[0].copy()
    back = np.zeros((frames, states), np.int32)
    for i in range(1, frames):
        padded[widest:] = total
        # In the precision of `total` (the first row's is the score's).
        candidates = padded[reach].astype(total.dtype) - costs.astype(total.dtype)
        # The first move of the best (in the order above) wins a tie, as does a move over a jump.
        pick = np.argmax(candidates, axis=0)
        best = np.take_along_axis(candidates, pick[None, :], axis=0)[0].astype(np.float64)
        came = np.take_along_axis(came_from, pick[None, :], axis=0)[0].astype(np.int32)
        leader = int(np.argmax(total))
        jumped = total[leader] - JUMP_COST * scale
        better = jumped > best
        best[better] = jumped
        came[better] = leader
        total = best + emission[i]
        back[i] = came
    path = np.zeros(frames, np.int64)
    path[-1] = int(np.argmax(total))
    for i in range(frames - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path // GRID


def runs(path: np.ndarray, fps: float, rate: float, camera_fps: float) -> list[tuple[int, int]]:
    """The stretches [start, stop) of suspect frames between splices: where the path goes back or leaps ahead."""
    step = rate * camera_fps / fps
    leaps = np.flatnonzero((np.diff(path) < -1) | (np.diff(path) > 3 * step + 1)) + 1
    edges = [0, *leaps.tolist(), len(path)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]
