"""Time as a mapping, frame by frame: slowed, sped-up, spliced copies that lose and repeat frames are followed to the
camera frame each of their frames shows."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.trace.frame_path import follow, runs
from cradle.media.trace.mapping import Piece, plain, retime

pytestmark = pytest.mark.nodb

CAMERA_FPS = 15
SECONDS = 40


def _scene(seed: int) -> np.ndarray:
    """A camera's frames as rows of pixels: a slow drift over the whole clip plus what changes every frame."""
    rng = np.random.default_rng(seed)
    count = SECONDS * CAMERA_FPS
    drift = np.cumsum(rng.normal(size=(count, 400)), axis=0) * 0.3
    return (drift + rng.normal(size=(count, 400))).astype(np.float32)


def _copy(reference: np.ndarray, parts, speed: float, fps: float, seconds: float, drop=0.0, dup=0.0, seed=0):
    """The copy's frames and the camera frame each shows: parts (suspect start, source start) spliced in order."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    starts = np.array([p[0] for p in parts])
    part = np.searchsorted(starts, t, side="right") - 1
    source = np.array([parts[p][1] for p in part]) + (t - starts[part]) * speed
    keep = rng.random(len(t)) >= drop
    repeat = np.where(rng.random(len(t)) < dup, 2, 1)
    source = np.repeat(source[keep], repeat[keep])[: len(t)]
    frames = np.floor(source * CAMERA_FPS + 1e-6).astype(int)
    noise = rng.normal(scale=0.5, size=(len(frames), reference.shape[1])).astype(np.float32)
    return reference[frames] * 0.8 + 20 + noise, frames


@pytest.mark.parametrize(
    ("speed", "fps", "drop", "dup"),
    [(0.5, 30.0, 0.0, 0.0), (2.0, 25.0, 0.0, 0.0), (0.7, 24.0, 0.1, 0.1), (1.6, 50.0, 0.08, 0.05)],
)
def test_each_frame_of_a_slowed_or_sped_up_copy_is_followed_to_the_camera_frame_it_shows(speed, fps, drop, dup):
    reference = _scene(1)
    suspect, truth = _copy(reference, [(0.0, 3.3)], speed, fps, 12.0, drop, dup)
    path = follow(suspect, reference, fps, speed, CAMERA_FPS)
    assert np.mean(path == truth) >= 0.9
    assert runs(path, fps, speed, CAMERA_FPS) == [(0, len(suspect))]


def test_a_spliced_copy_is_cut_where_it_was_spliced():
    reference = _scene(2)
    parts = [(0.0, 2.0), (5.0, 20.0), (9.0, 9.5)]
    suspect, truth = _copy(reference, parts, 0.85, 25.0, 14.0, 0.05, 0.05, seed=3)
    path = follow(suspect, reference, 25.0, 0.85, CAMERA_FPS)
    assert np.mean(path == truth) >= 0.9
    found = runs(path, 25.0, 0.85, CAMERA_FPS)
    assert len(found) == 3
    cuts = [start for start, _ in found[1:]]
    actual = np.flatnonzero(np.abs(np.diff(truth)) > 5) + 1
    assert all(abs(c - a) <= 2 for c, a in zip(cuts, actual, strict=True))


def _relit(seed: int, level: float) -> np.ndarray:
    """A camera whose light changes twice: bright for 15 s, as the clip's mean for 10 s, dim for the last 15 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(SECONDS * CAMERA_FPS) / CAMERA_FPS
    light = np.where(t < 15, level, np.where(t < 25, 0.0, -level))[:, None] * rng.normal(size=(1, 400))
    return (light + rng.normal(size=light.shape)).astype(np.float32)


def test_a_copy_of_a_few_seconds_of_a_relit_clip_is_followed_from_where_the_line_fit_puts_it():
    # Centred on the whole clip, the bright stretch the copy shows is far from the centre and the frames at the
    # clip's mean stand out more: the path followed them 0 % of the time. From the line fit's frames it holds.
    reference = _relit(4, 30.0)
    suspect, truth = _copy(reference, [(0.0, 1.4)], 0.84, 20.0, 15.0, 0.04, 0.05, seed=4)
    guide = np.round((0.84 * np.arange(len(suspect)) / 20.0 + 1.4) * CAMERA_FPS).astype(int)
    assert np.mean(follow(suspect, reference, 20.0, 0.84, CAMERA_FPS) == truth) < 0.5
    path = follow(suspect, reference, 20.0, 0.84, CAMERA_FPS, guide)
    assert np.mean(path == truth) >= 0.9
    assert runs(path, 20.0, 0.84, CAMERA_FPS) == [(0, len(suspect))]


def test_a_followed_piece_is_retimed_to_the_frames_that_show_each_camera_instant():
    frames = [np.full((2, 2), i, np.uint8) for i in range(8)]
    # Frame 2 is repeated and the instant after frame 4 was lost: shown times at 15 fps.
    piece = Piece(0.0, 8 / 15, 1.0, 1.0, tuple(1.0 + n / 15 for n in (0, 1, 2, 2, 3, 5, 6, 7)))
    shown, begins = retime(frames, 15, piece, 15)
    assert begins == 1.0
    assert [int(f[0, 0]) for f in shown] == [0, 1, 2, 4, 4, 5, 6, 7]


def test_a_followed_copy_is_read_beside_the_copy_as_it_is_even_at_the_camera_pace():
    steady = tuple(1.0 + np.floor(np.arange(50) / 25 * CAMERA_FPS) / CAMERA_FPS)
    assert plain([Piece(0.0, 2.0, 1.0, 1.0)])
    assert not plain([Piece(0.0, 2.0, 1.0, 1.0, steady)])
