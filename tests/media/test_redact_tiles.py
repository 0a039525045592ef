"""A look at native resolution over several tiles runs as one pool job per tile, so the pool's workers share it and a
crop waits at most for one tile; it finds exactly what the look in one piece finds."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from cradle.media.errors import DetectorFailed
from cradle.media.redact.pool import DetectorPool, WardDetectors, default_detectors, look_tiles
from cradle.media.sim import SimCamera, SimSettings

pytestmark = pytest.mark.nodb


def test_a_look_cut_into_tiles_finds_the_lines_the_look_in_one_piece_finds():
    image = SimCamera(SimSettings(seed=6, width=1280, height=720, lang="zh")).frame(4).image
    assert len(look_tiles(image.shape, 0, None)) == 6
    detectors = default_detectors()()
    crop = (100, 40, 1180, 700)  # a crop wider than a tile: cut into tiles too
    with DetectorPool(workers=2) as pool:
        for region, likeness in ((None, True), (None, False), (crop, True)):
            whole = detectors.detect(image, False, 0, region, likeness)
            tiled = pool.submit(image, False, 0, region, likeness).result(timeout=120)
            assert len(tiled) == len(whole) > 3
            assert all(np.array_equal(a, b) for a, b in zip(tiled, whole, strict=True))


class Recorder:
    """Finds nothing; notes which worker was shown a picture of which size, and can be held at a gate."""

    def __init__(self, fail_on: tuple[int, int] | None = None) -> None:
        self.seen: list[tuple[int, int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def detect(self, image):
        self.entered.set()
        self.gate.wait(30)
        self.seen.append((threading.current_thread().name, image.shape[:2]))
        if image.shape[:2] == self.fail_on:
            raise RuntimeError("the detector broke")
        time.sleep(0.01)
        return []


def test_a_begun_look_runs_its_tiles_on_every_worker_ahead_of_crops_asked_for_later():
    recorder = Recorder()
    recorder.gate.clear()
    frame = np.zeros((720, 1280, 3), np.uint8)
    with DetectorPool(lambda: WardDetectors(recorder), workers=2, backlog=8) as pool:
        whole = pool.submit(frame)
        assert recorder.entered.wait(30)
        crops = [pool.submit(frame, region=(0, 0, 64, 48)) for _ in range(3)]
        recorder.gate.set()
        assert whole.result(timeout=30) == [] and [c.result(timeout=30) for c in crops] == [[], [], []]
    tiles = [i for i, (_, shape) in enumerate(recorder.seen) if shape != (48, 64)]
    # Both workers took tiles of the one look, and its six tiles ran before the crops asked for once it had begun
    # (one crop at most beside its last tile, on the other worker).
    assert len({recorder.seen[i][0] for i in tiles}) == 2
    assert len(tiles) == 6 and max(tiles) <= 6


def test_a_look_fails_once_when_one_of_its_tiles_fails():
    tile = look_tiles((720, 1280), 0, None)[3]
    recorder = Recorder(fail_on=(tile[3] - tile[1], tile[2] - tile[0]))
    with DetectorPool(lambda: WardDetectors(recorder), workers=2) as pool:
        look = pool.submit(np.zeros((720, 1280, 3), np.uint8))
        with pytest.raises(RuntimeError, match="broke"):
            look.result(timeout=30)


def test_a_look_cut_into_tiles_counts_once_against_the_backlog():
    recorder = Recorder()
    recorder.gate.clear()
    frame = np.zeros((720, 1280, 3), np.uint8)
    with DetectorPool(lambda: WardDetectors(recorder), workers=1, backlog=2) as pool:
        busy = pool.submit(frame, region=(0, 0, 64, 48))
        assert recorder.entered.wait(30)  # the worker is on it: nothing waits
        looks = [pool.submit(frame), pool.submit(frame)]  # twelve tiles in the queue, two looks
        refused = pool.submit(frame, region=(0, 0, 64, 48))
        recorder.gate.set()
        with pytest.raises(DetectorFailed, match="overloaded"):
            refused.result(timeout=1)
        assert [look.result(timeout=30) for look in [busy, *looks]] == [[], [], []]
