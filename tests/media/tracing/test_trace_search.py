"""Search: a re-encoded copy finds its stored source; another bed, a blank picture or nothing at all finds none."""

from __future__ import annotations

import numpy as np
import pytest
from trace_support import FPS, KEY, SOURCE, START, frames, leak, loader

from cradle.media.fingerprint import fingerprint_segment
from cradle.media.hls import decode
from cradle.media.sim import SimSettings
from cradle.media.trace import locate, trace

pytestmark = pytest.mark.nodb


def test_fingerprint_is_small_and_survives_a_leakers_reencode(clip, leaked):
    fingerprint = fingerprint_segment(decode(clip[5].reference))
    assert fingerprint.dtype == np.float16 and fingerprint.nbytes <= 1024
    # Segment 5 of the source starts 4.6 s into the leak (25 fps).
    start = round((5 - START / FPS) * 25)
    again = fingerprint_segment(leaked[start : start + 25]).astype(np.float32)
    assert float(again @ fingerprint.astype(np.float32)) > 0.95


def test_a_reencoded_copy_finds_its_source_among_decoys(store, leaked):
    references, index = store
    alignment = locate(leaked, 25, index, loader(references))
    assert alignment is not None and alignment.source_id == SOURCE


def test_unrelated_scene_has_no_matching_source(store):
    references, index = store
    # Another bed, straight from its camera: whether it also carried some clip's mark does not matter, as the
    # picture (another card, another baby) is what rejects it, before any mark is read.
    other = frames(SimSettings(bed="bed-7", lang="zh", seed=5, fps=FPS), 6)
    suspect = leak(other, 480, 360, 400_000, 0.0)
    assert locate(suspect, 25, index, loader(references)) is None
    assert trace(suspect, 25, index, loader(references), KEY) == (None, [])


def test_bad_input_finds_no_source(store):
    references, index = store
    assert trace([], 25, index, loader(references), KEY) == (None, [])
    grey = [np.full((240, 320, 3), 128, np.uint8)] * 50
    assert trace(grey, 25, index, loader(references), KEY) == (None, [])
