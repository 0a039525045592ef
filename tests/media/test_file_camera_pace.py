"""Fault: a file used as a camera was read as fast as it decoded and replayed at 1.86x real time. A file camera sends
its frames at the pace their timestamps say, as a real camera does."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cradle.media.source import pyav_pictures
from tests.drill import mp4_bytes


@pytest.mark.nodb
def test_a_file_camera_plays_at_its_own_frame_rate(tmp_path):
    clip = tmp_path / "ward.mp4"
    frames = [np.full((48, 64, 3), i * 8 % 255, np.uint8) for i in range(30)]
    clip.write_bytes(mp4_bytes(frames, fps=15))
    start = time.monotonic()
    count = sum(1 for _ in pyav_pictures(str(clip)))
    took = time.monotonic() - start
    # 30 frames at 15 fps span 29/15 s from the first to the last; decoding alone takes a few milliseconds.
    assert count == 30 and took >= 29 / 15 * 0.95, took
