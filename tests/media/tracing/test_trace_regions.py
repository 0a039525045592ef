"""Regional search: a copy with a fifth of its picture covered by a caption and stickers still finds its source cell by
cell, where the one global thumbnail falls below the gate; footage from elsewhere, covered alike, finds nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from trace_support import FPS, SOURCE, START, leak
from trace_support import covered as _covered

from cradle.media import regions
from cradle.media.fingerprint import REGIONAL_SIMILARITY, suspect_windows

pytestmark = pytest.mark.nodb


@pytest.fixture(scope="module")
def covered(served):
    return _covered(leak(served[START : START + 8 * FPS], 480, 360, 600_000, 0.0))


def test_a_covered_fifth_hides_the_source_from_the_global_search_but_not_from_the_regional(store, covered):
    _, index = store
    assert not index.search(covered, 25), "the cover should hide the source from the global thumbnail"
    found = index.search(covered, 25, k=64, regional=True)
    assert found and found[0].source_id == SOURCE
    # The copy starts 0.4 s into the source. A still ward scene makes its seconds alike (their regional scores differ
    # in the third decimal, so their order is the coding noise's), and every shortlisted offset of a source goes to
    # the alignment (cradle.media.trace.search): the true one must be among them.
    assert any(m.source_id == SOURCE and abs(m.offset - START / FPS) < 0.5 for m in found)


def test_the_worst_cells_do_not_count(covered):
    windows, _ = suspect_windows(covered, 25)
    cells = regions.cells(windows[:4])
    assert cells.shape == (4, regions.CELLS, regions.CELL_VALUES)
    # Against itself every cell agrees; with the covered cells turned over, the score is unchanged as long as no
    # more than DROPPED of them disagree, and stays above the gate, HANDICAP less, up to MOST_DROPPED.
    spoiled = cells.copy()
    spoiled[:, : regions.DROPPED] *= -1
    assert np.allclose(np.diag(regions.scores(cells, cells)), 1.0, atol=1e-4)
    assert np.allclose(np.diag(regions.scores(cells, spoiled)), 1.0, atol=1e-4)
    spoiled[:, : regions.DROPPED + 1] = -cells[:, : regions.DROPPED + 1]
    assert np.all(np.diag(regions.scores(cells, spoiled)) < 0.9)
    spoiled[:, : regions.MOST_DROPPED] = -cells[:, : regions.MOST_DROPPED]
    assert np.allclose(np.diag(regions.scores(cells, spoiled)), 1.0 - regions.HANDICAP, atol=1e-4)
    assert 1.0 - regions.HANDICAP >= REGIONAL_SIMILARITY
    spoiled[:, : regions.MOST_DROPPED + 1] = -cells[:, : regions.MOST_DROPPED + 1]
    assert np.all(np.diag(regions.scores(cells, spoiled)) < REGIONAL_SIMILARITY)


def test_footage_from_elsewhere_covered_alike_finds_no_source(store):
    _, index = store
    rng = np.random.default_rng(11)
    base = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
    drifting = [np.roll(base, (n // 3, n // 2), axis=(0, 1)) for n in range(5 * 25)]
    assert index.search(_covered(drifting), 25, k=64, regional=True) == []
