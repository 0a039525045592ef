"""Fixtures for the media core: real detector pools and small videos of simulated beds."""

from __future__ import annotations

import pytest
from media_support import FixedText, write_video

from cradle.media.redact import DetectorPool
from cradle.media.redact.pool import WardDetectors
from cradle.media.sim import SimCamera, SimSettings


@pytest.fixture(scope="session")
def ocr_pool():
    """A pool with the real rapidocr detector, shared by the tests that need it."""
    with DetectorPool(workers=2) as pool:
        yield pool


@pytest.fixture
def fake_text():
    """A controllable detector and a pool running it; unblocked at teardown."""
    detector = FixedText([(400, 240, 620, 420)])
    pool = DetectorPool(lambda: WardDetectors(detector), workers=1, backlog=64)
    yield detector, pool
    detector.release.set()
    pool.close()


@pytest.fixture(scope="session")
def bed_video(tmp_path_factory):
    """A short clip of a simulated bed in Chinese, and the camera that rendered it."""
    camera = SimCamera(SimSettings(lang="zh", seed=11))
    path = tmp_path_factory.mktemp("video") / "bed.mp4"
    write_video(path, [camera.frame(i).image for i in range(20)])
    return path, camera
