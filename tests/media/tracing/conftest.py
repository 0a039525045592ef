"""A simulated bed's clip, its references and fingerprints, ten sessions' codewords and one leaked copy, made once."""

from __future__ import annotations

import numpy as np
import pytest
from trace_support import BED, LEAKER, SECONDS, SESSIONS, SOURCE, START, frames, leak, render

from cradle.media.fingerprint import DIMENSIONS, FingerprintIndex, fingerprint_segment
from cradle.media.hls import decode
from cradle.media.mark import Variant


@pytest.fixture(scope="session")
def camera_frames():
    """16 s of the simulated bed's camera, unmarked: what the clip is made from, and what an unmarked copy shows."""
    return frames(BED, SECONDS)


@pytest.fixture(scope="session")
def clip(camera_frames):
    """A 16 s clip of a simulated bed at the camera's size: segments with both variants and the reference."""
    return render(BED, camera_frames)


@pytest.fixture(scope="session")
def store(clip):
    """The reference frames by (source, segment), and a fingerprint index with decoys from 2,000 other segments."""
    references = {(SOURCE, segment.index): decode(segment.reference) for segment in clip}
    rows = [(source, index, fingerprint_segment(images)) for (source, index), images in references.items()]
    decoys = np.random.default_rng(5).normal(size=(2000, DIMENSIONS)).astype(np.float32)
    decoys /= np.linalg.norm(decoys, axis=1, keepdims=True)
    rows += [(f"decoy-{i // 30}", i % 30, vector.astype(np.float16)) for i, vector in enumerate(decoys)]
    return references, FingerprintIndex.from_rows(rows)


@pytest.fixture(scope="session")
def codewords(clip):
    """Ten sessions, each served its own random variant per mark unit of every segment."""
    rng = np.random.default_rng(8)
    return {
        f"session-{s}": {
            (SOURCE, segment.index): tuple(Variant(int(rng.integers(2))) for _ in segment.units) for segment in clip
        }
        for s in range(SESSIONS)
    }


@pytest.fixture(scope="session")
def served(clip, codewords):
    """The frames the leaking session was served."""
    return [image for s in clip for image in decode(s.variant(codewords[LEAKER][(SOURCE, s.index)]))]


@pytest.fixture(scope="session")
def leaked(served):
    """The leaker's copy, from 0.4 s on: 5 % cropped, 360p, 300 kbit/s, 25 fps."""
    return leak(served[START:], 480, 360, 300_000, 0.05)
