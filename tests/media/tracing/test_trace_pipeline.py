"""The stages together: a leaked copy names the leaking session; an unmarked copy names nobody."""

from __future__ import annotations

import pytest
from trace_support import FPS, KEY, LEAKER, leak, loader

from cradle.media.trace import attribute, search, trace

pytestmark = pytest.mark.nodb


def test_trace_names_the_leaker_and_nobody_else_comes_close(store, codewords, leaked):
    references, index = store
    alignment, found = trace(leaked, 25, index, loader(references), KEY)
    assert alignment is not None
    verdict = attribute(found, codewords)
    assert verdict.outcome == "identified" and verdict.candidate == LEAKER
    assert verdict.ranking[0].probability < 1e-4
    assert all(score.probability > 1e-3 for score in verdict.ranking[1:])


def test_unmarked_copy_names_nobody(clip, camera_frames, store, codewords):
    references, index = store
    unmarked = leak(camera_frames[: len(clip) * FPS], 480, 360, 300_000, 0.05)
    _, found = trace(unmarked, 25, index, loader(references), KEY)
    verdict = attribute(found, codewords)
    assert verdict.outcome == "inconclusive" and verdict.candidate is None
    assert "too few readable segments" in verdict.reason


def test_a_copy_at_the_cameras_pace_is_named_without_mapping_its_time(store, codewords, leaked, monkeypatch):
    # Read as it is, every unit reads, so no time mapping could read more; it is not computed.
    mapped = []
    monkeypatch.setattr(search, "map_time", lambda *arguments: mapped.append(arguments) or [])
    references, index = store
    alignment, found = trace(leaked, 25, index, loader(references), KEY)
    assert alignment is not None and alignment.piece is None
    verdict = attribute(found, codewords)
    assert verdict.outcome == "identified" and verdict.candidate == LEAKER
    assert mapped == []
