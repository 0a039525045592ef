"""The vectorised line fit and frame path give what the plain definitions give: every frame's excess summed along
every line, and the best path through the moves one by one."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.trace import frame_path
from cradle.media.trace.mapping import MAX_RATE, MIN_RATE, _best_line

pytestmark = pytest.mark.nodb


def _excess(seed: int, frames: int, count: int, rate: float) -> np.ndarray:
    """Similarities with a true line at `rate` (25 fps copy, 15 fps camera), kept as the mapping keeps them."""
    rng = np.random.default_rng(seed)
    similarity = rng.normal(size=(frames, count)).astype(np.float32)
    columns = np.round(np.arange(frames) / 25 * rate * 15).astype(int) + 7
    inside = columns < count
    similarity[np.flatnonzero(inside), columns[inside]] += 3
    excess = similarity - np.median(similarity, axis=1, keepdims=True)
    return np.maximum(excess - 0.5 * excess.max(axis=1, keepdims=True), 0.0)


def _line_by_definition(excess: np.ndarray, t: np.ndarray, free: np.ndarray, pace: float) -> tuple[float, int]:
    rows = np.flatnonzero(free)
    count = excess.shape[1]

    def best(rates, found):
        for rate in rates:
            base = np.round(float(rate) * t[rows] * pace).astype(int)
            for shift in range(-int(base.max()), count):
                columns = base + shift
                valid = (columns >= 0) & (columns < count)
                total = float(excess[rows[valid], columns[valid]].astype(np.float64).sum())
                if found is None or total > found[0] + 1e-9:
                    found = (total, float(rate), shift)
        return found

    found = best(np.exp(np.arange(np.log(MIN_RATE), np.log(MAX_RATE), 0.003)), None)
    found = best(found[1] * np.exp(np.arange(-0.003, 0.0031, 0.0005)), found)
    return found[1], found[2]


@pytest.mark.parametrize(("seed", "rate"), [(1, 1.0), (2, 0.6), (3, 1.8)])
def test_the_line_fit_finds_the_line_that_the_sums_along_every_line_find(seed, rate):
    excess = _excess(seed, 60, 90, rate)
    t = np.arange(60) / 25
    free = np.ones(60, bool)
    free[:5] = False
    found_rate, shift, support = _best_line(excess, t, free, 15.0)
    assert (found_rate, shift) == _line_by_definition(excess, t, free, 15.0)
    assert abs(found_rate - rate) < 0.05 and support.sum() > 40


def _path_by_definition(score: np.ndarray, fps: float, rate: float, camera_fps: float) -> np.ndarray:
    """The dynamic programme move by move, as frame_path describes it."""
    frames, count = score.shape
    grid = frame_path.GRID
    states = count * grid
    emission = np.repeat(score, grid, axis=1).astype(np.float64)
    scale = float(np.median(np.abs(score))) + 1e-6
    step = rate * camera_fps * grid / fps
    base = {round(k * step): c for k, c in ((1, 0.0), (0, frame_path.STEP_COST), (2, frame_path.STEP_COST),
                                             (3, 2 * frame_path.STEP_COST))}  # fmt: skip
    moves: dict[int, float] = {}
    for move, cost in base.items():
        for nudge in (-1, 0, 1):
            if move + nudge >= 0:
                total = cost + (frame_path.NUDGE_COST if nudge else 0.0)
                moves[move + nudge] = min(moves.get(move + nudge, np.inf), total)
    total = emission[0].copy()
    back = np.zeros((frames, states), np.int64)
    for i in range(1, frames):
        best = np.full(states, -np.inf)
        came = np.zeros(states, np.int64)
        for move, cost in moves.items():
            candidate = np.full(states, -np.inf)
            candidate[move:] = total[: states - move] - cost * scale
            better = candidate > best
            best[better], came[better] = candidate[better], (np.arange(states) - move)[better]
        leader = int(np.argmax(total))
        better = total[leader] - frame_path.JUMP_COST * scale > best
        best[better], came[better] = total[leader] - frame_path.JUMP_COST * scale, leader
        total = best + emission[i]
        back[i] = came
    path = np.zeros(frames, np.int64)
    path[-1] = int(np.argmax(total))
    for i in range(frames - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path // grid


@pytest.mark.parametrize(("seed", "rate", "fps"), [(4, 1.0, 25.0), (5, 1.25, 30.0), (6, 0.56, 19.0)])
def test_the_frame_path_is_the_best_path_move_by_move(seed, rate, fps):
    score = _excess(seed, 50, 70, rate) + np.random.default_rng(seed).normal(scale=0.1, size=(50, 70))
    score[30:] = np.roll(score[30:], 9, axis=1)  # a splice
    assert np.array_equal(frame_path._best_path(score, fps, rate, 15.0), _path_by_definition(score, fps, rate, 15.0))


def test_following_a_copy_finds_the_camera_frame_each_frame_shows():
    rng = np.random.default_rng(7)
    reference = (np.cumsum(rng.normal(size=(120, 300)), axis=0) * 0.3 + 100).astype(np.float32)
    shown = np.minimum(np.arange(80) * 15 // 25 + 11, 119)
    suspect = reference[shown] * 0.9 + 5 + rng.normal(scale=0.3, size=(80, 300)).astype(np.float32)
    path = frame_path.follow(suspect, reference, 25.0, 1.0, 15.0)
    assert np.mean(np.abs(path - shown) <= 1) > 0.9
