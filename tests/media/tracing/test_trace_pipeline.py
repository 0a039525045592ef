"""The stages together: a leaked copy names the leaking session; an unmarked copy names nobody; a copy read at both
ends needs no time mapping."""

from __future__ import annotations

import numpy as np
import pytest
from trace_support import FPS, KEY, LEAKER, SOURCE, leak, loader

import cradle.media.trace as tracing
from cradle.media.hls import decode
from cradle.media.trace import UNREAD_AS_IS, Alignment, SegmentReading, _settled, _wobbles, attribute, search, trace
from cradle.media.trace.mapping import Piece

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


def test_a_reading_at_both_ends_of_the_copy_stands_without_a_time_mapping():
    # Read at a wrong pace, the offset holds along one stretch only; one that reads at both ends holds in between.
    def at(read: list[int], count: int = 30) -> list[SegmentReading]:
        return [SegmentReading(SOURCE, i // 2, 9.0 if i in read else 1.0, i / 2, 1.0, i % 2, 2) for i in range(count)]

    assert _settled(at([i for i in range(30) if i != 7]), 15.0)  # one unit unread
    assert _settled(at([1, 4, 9, 14, 20, 27]), 15.0)  # an average of two copies: erasures all over
    assert not _settled(at(list(range(8, 20))), 15.0)  # a middle stretch: a copy sped up or slowed down
    assert not _settled(at(list(range(0, 14))), 15.0)  # the first part of a splice
    assert not _settled(at([]), 15.0)


def test_an_average_of_two_sessions_copies_is_read_without_mapping_its_time(store, clip, codewords, monkeypatch):
    # Where the two sessions were served different variants the marks cancel, so about half the units read; they
    # read all over the copy, so its pace is the camera's and no mapping is computed.
    mapped = []
    monkeypatch.setattr(search, "map_time", lambda *arguments: mapped.append(arguments) or [])
    served = [
        [image for s in clip for image in decode(s.variant(codewords[session][(SOURCE, s.index)]))]
        for session in (LEAKER, "session-6")
    ]
    averaged = [((a.astype(np.uint16) + b) // 2).astype(np.uint8) for a, b in zip(*served, strict=True)]
    references, index = store
    alignment, found = trace(leak(averaged, 480, 360, 800_000, 0.0), 25, index, loader(references), KEY)
    assert alignment is not None and alignment.piece is None
    read = [r for r in found if r.variant is not None]
    assert 0 < len(read) < len(found) - UNREAD_AS_IS
    assert mapped == []


def _followed(away: np.ndarray, rate: float = 1.0, fps: float = 25.0) -> Alignment:
    """A piece followed over 4 s of a 25 fps copy, each frame `away` camera frames from the copy's offset of 1 s."""
    t = np.arange(len(away)) / fps
    shown = tuple(1.0 + rate * t + away / FPS)
    piece = Piece(0.0, len(away) / fps, rate, 1.0, shown)
    return Alignment(SOURCE, 1.0, np.eye(3), "orb", 0.99, 0.99, piece=piece, pace=FPS)


def test_a_path_that_only_wobbles_about_the_copy_as_it_is_is_told_from_one_that_strays_or_runs_at_another_pace():
    as_is = Alignment(SOURCE, 1.0, np.eye(3), "orb", 0.99, 0.99)
    wobble = np.random.default_rng(3).integers(-2, 3, 100).astype(float)
    wobble -= np.median(wobble)
    assert _wobbles([_followed(wobble)], as_is, 25.0)
    assert not _wobbles([_followed(wobble + 1)], as_is, 25.0)  # the alignment missed the offset by a frame
    assert not _wobbles([_followed(np.linspace(0, 8, 100))], as_is, 25.0)  # lost frames: it strays
    assert not _wobbles([_followed(wobble, rate=1.1)], as_is, 25.0)  # sped up
    assert not _wobbles([_followed(wobble), _followed(wobble)], as_is, 25.0)  # spliced


def test_an_unmarked_copy_is_not_read_again_along_a_path_that_wobbles_about_it(clip, camera_frames, store, monkeypatch):
    # Its mark reads nowhere as it is; followed frame by frame it is paired with camera frames a frame or two either
    # side, where no mark reads either, so that reading is not made.
    read = []
    reading = tracing.read_bits
    monkeypatch.setattr(tracing, "read_bits", lambda *a, **k: read.append(a[2]) or reading(*a, **k))
    references, index = store
    unmarked = leak(camera_frames[: len(clip) * FPS], 480, 360, 300_000, 0.05)
    alignment, found = trace(unmarked, 25, index, loader(references), KEY)
    assert alignment is not None and alignment.source_id == SOURCE
    assert not any(r.variant is not None for r in found)
    assert read and all(a.piece is None for a in read)
