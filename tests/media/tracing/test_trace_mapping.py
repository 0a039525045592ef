"""Time as a mapping: a sped-up copy is mapped onto the camera's time and still reads."""

from __future__ import annotations

import numpy as np
import pytest
from trace_support import FPS, KEY, LEAKER, SOURCE, leak, loader

from cradle.media.trace import trace
from cradle.media.trace.attribution import received
from cradle.media.trace.mapping import Piece, plain, retime

pytestmark = pytest.mark.nodb

SPEED = 1.2


def _sped_up(served: list, start: float, seconds: float) -> list:
    """`seconds` of suspect at the camera's rate FPS showing the clip from `start` at SPEED."""
    return [served[int((start + i / FPS * SPEED) * FPS)] for i in range(int(seconds * FPS))]


def test_a_sped_up_copy_is_mapped_and_reads(store, codewords, served):
    references, index = store
    copy = leak(_sped_up(served, 0.3, 10.0), 480, 360, 500_000, 0.03, fps=FPS)
    alignment, found = trace(copy, FPS, index, loader(references), KEY)
    assert alignment is not None and alignment.source_id == SOURCE and alignment.piece is not None
    assert abs(alignment.piece.rate - SPEED) < 0.01
    read = [r for r in found if r.variant is not None]
    assert len(read) >= 9 and all(r.variant is received(codewords[LEAKER], r) for r in read)


def test_retiming_shows_each_camera_frame_the_piece_covers():
    frames = [np.full((4, 4), i, np.uint8) for i in range(50)]  # frame i at 25 fps shows source i / 25 * 2 + 1
    shown, begins = retime(frames, 25, Piece(0.0, 2.0, 2.0, 1.0), 15)
    assert begins == 1.0 and len(shown) == 60
    assert [int(f[0, 0]) for f in shown[:6]] == [0, 1, 2, 2, 3, 4]  # camera frame n shows suspect frame n / 15 / 2 * 25
    assert plain([Piece(0.0, 9.0, 1.001, 0.4)]) and not plain([Piece(0.0, 9.0, 1.02, 0.4)])
