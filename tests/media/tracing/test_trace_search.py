"""Search: a re-encoded copy finds its stored source; another bed, a blank picture or nothing at all finds none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from trace_support import FPS, KEY, LEAKER, SOURCE, START, frames, leak, loader, render

from cradle.media import fingerprint
from cradle.media.fingerprint import (
    DIMENSIONS,
    MATCH_SIMILARITY,
    FingerprintIndex,
    fingerprint_segment,
    suspect_windows,
)
from cradle.media.hls import decode
from cradle.media.sim import SimSettings
from cradle.media.trace import locate, trace
from cradle.media.trace.attribution import received
from cradle.media.trace.framing import Framing
from cradle.media.trace.search import Passes, framed_first

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


@pytest.mark.parametrize(
    "framing",
    [Framing(turns=1), Framing(mirror=True), Framing(turns=3, mirror=True), Framing((0.25, 0.2, 0.75, 0.8), 2)],
)
def test_a_framing_brings_the_picture_back_the_right_way_round(framing):
    picture = np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)
    # What a re-publisher made: the picture turned and mirrored, inside a larger frame at the framing's box.
    shown = picture[:, ::-1] if framing.mirror else picture
    shown = np.rot90(shown, k=framing.turns)
    x0, y0, x1, y1 = framing.box
    height, width = round(shown.shape[0] / (y1 - y0)), round(shown.shape[1] / (x1 - x0))
    frame = np.zeros((height, width), np.uint8)
    top, left = round(y0 * height), round(x0 * width)
    frame[top : top + shown.shape[0], left : left + shown.shape[1]] = shown
    assert np.array_equal(framing.apply(frame), picture)


def test_a_mirrored_copy_turned_on_its_side_finds_its_source_and_reads(store, codewords, served):
    references, index = store
    copy = leak(served[START : START + 8 * FPS], 480, 360, 400_000, 0.0)
    turned = [np.ascontiguousarray(np.rot90(frame[:, ::-1])) for frame in copy]
    alignment, found = trace(turned, 25, index, loader(references), KEY)
    assert alignment is not None and alignment.source_id == SOURCE
    assert alignment.framing.mirror and alignment.framing.turns in (1, 3)
    read = [r for r in found if r.variant is not None]
    assert len(read) >= 6 and all(r.variant is received(codewords[LEAKER], r) for r in read)


def _story(copy: list[np.ndarray]) -> list[np.ndarray]:
    """A 9:16 story: each frame of a 4:3 copy in the middle of its own blurred enlargement."""
    story = []
    for frame in copy:
        canvas = cv2.GaussianBlur(cv2.resize(frame, (360, 640)), (0, 0), 12)
        canvas[200:470] = cv2.resize(frame, (360, 270), interpolation=cv2.INTER_AREA)
        story.append(canvas)
    return story


def test_a_copy_on_a_vertical_canvas_over_its_blurred_self_finds_its_source(store, served):
    references, index = store
    copy = leak(served[START : START + 6 * FPS], 480, 360, 600_000, 0.0)
    story = _story(copy)
    alignment = locate(story, 25, index, loader(references))
    assert alignment is not None and alignment.source_id == SOURCE
    # The picture is placed where it is on the canvas: either framed out of it, or registered inside the whole canvas
    # by the homography (which maps the framed suspect onto the reference).
    x0, y0, x1, y1 = alignment.framing.box
    height, width = next(iter(references.values()))[0].shape[:2]
    corners = np.array([[[0, 0], [width, height]]], np.float32)
    (left, top), (right, bottom) = cv2.perspectiveTransform(corners, np.linalg.inv(alignment.homography))[0]
    if alignment.framing.box == (0.0, 0.0, 1.0, 1.0):
        y0, y1, x0, x1 = top / 640, bottom / 640, left / 360, right / 360
    assert abs(y0 - 200 / 640) < 0.02 and abs(y1 - 470 / 640) < 0.02 and x1 - x0 > 0.95


def test_the_search_ranks_the_same_rows_as_ranking_the_whole_store():
    # Only rows above the similarity gate are ranked; the matches must be those of ranking every row, also where more
    # rows than the shortlist holds pass the gate (a still scene's many look-alike segments).
    rng = np.random.default_rng(3)
    scene = rng.normal(size=DIMENSIONS)
    rows = [scene + rng.normal(scale=0.3 if i < 600 else 3.0, size=DIMENSIONS) for i in range(3000)]
    rows = [row / np.linalg.norm(row) for row in rows]
    index = FingerprintIndex.from_rows((f"clip-{i % 7}", i // 7, row.astype(np.float16)) for i, row in enumerate(rows))
    windows = np.stack([scene + rng.normal(scale=0.2, size=DIMENSIONS) for _ in range(5)]).astype(np.float32)
    windows /= np.linalg.norm(windows, axis=1, keepdims=True)
    everything = windows @ index._matrix[: len(index)].astype(np.float32).T
    for k, floor in ((32, 0.5), (5000, 0.5), (32, 0.99)):
        top, similarities = index._top(windows, k, False, floor)
        for w in range(len(windows)):
            kept = similarities[w] >= floor
            expected = np.argsort(-everything[w], kind="stable")[:k]
            expected = expected[everything[w][expected] >= floor]
            assert sorted(top[w][kept]) == sorted(expected)
            assert np.all(np.diff(similarities[w][kept]) <= 0)
    assert np.array_equal(index.best_similarity(windows), everything.max(axis=1))


def test_the_groups_left_unscored_hold_no_row_a_full_scan_keeps(store, leaked, monkeypatch):
    # A store of slowly drifting scenes, 30 seconds each (a still camera's seconds look alike), beside the clip: the
    # search scores only the groups whose bound reaches its gate, and must find what scoring every row finds.
    references, _ = store
    rng = np.random.default_rng(12)
    rows = [(source, i, fingerprint_segment(images)) for (source, i), images in references.items()]
    for n in range(300):
        scene = rng.normal(size=DIMENSIONS)
        for i in range(30):
            row = scene + rng.normal(scale=0.4, size=DIMENSIONS)
            rows.append((f"scene-{n}", i, (row / np.linalg.norm(row)).astype(np.float16)))
    pruned = FingerprintIndex.from_rows(rows)
    windows, _ = suspect_windows(leaked, 25)
    scored = pruned._grouped().rows(windows, False, MATCH_SIMILARITY)
    assert len(scored) < len(pruned) / 10
    found = {regional: pruned.search(leaked, 25, k=256, regional=regional) for regional in (False, True)}
    noise = rng.normal(size=(20, DIMENSIONS)).astype(np.float32)
    probes = np.concatenate([windows[:5], noise / np.linalg.norm(noise, axis=1, keepdims=True)])
    best = pruned.best_similarity(probes, floor=0.75)
    monkeypatch.setattr(fingerprint, "BOUND_SLACK", 10.0)  # every group's bound then passes: every row is scored
    whole = FingerprintIndex.from_rows(rows)
    assert len(whole._grouped().rows(windows, False, MATCH_SIMILARITY)) == len(whole)
    for regional, matches in found.items():
        again = whole.search(leaked, 25, k=256, regional=regional)
        assert matches and matches[0].source_id == SOURCE
        assert [m.source_id for m in matches] == [m.source_id for m in again]
        assert np.allclose(
            [(m.offset, m.score, m.support) for m in matches], [(m.offset, m.score, m.support) for m in again]
        )
    exact = whole.best_similarity(probes)
    assert np.allclose(best[exact >= 0.75], exact[exact >= 0.75], atol=1e-5)
    assert np.all(best[exact < 0.75] < 0.75)


def test_a_story_over_its_blurred_self_is_searched_framed_first_and_a_plain_copy_as_it_is(store, served, leaked):
    # The blurred enlargement resembles the source a little as it is; its box resembles it clearly better, so the
    # framings are searched before the copy is aligned as it is, with and without captions.
    _, index = store
    copy = leak(served[START : START + 6 * FPS], 480, 360, 600_000, 0.0)
    story = _story(copy)
    assert framed_first(story, 25, index, index.search(story, 25, k=256), Passes())
    assert not framed_first(leaked, 25, index, index.search(leaked, 25, k=256), Passes())


def test_a_prepared_index_searches_without_bounding_its_store_again(store, leaked, monkeypatch):
    # The bounds every search prunes with are made once when the index is prepared: no search after that, global or
    # regional, makes them again, and each finds what the same index found unprepared.
    references, _ = store
    rows = [(source, i, fingerprint_segment(images)) for (source, i), images in references.items()]
    plain = FingerprintIndex.from_rows(rows)
    found = {regional: plain.search(leaked, 25, k=256, regional=regional) for regional in (False, True)}
    prepared = FingerprintIndex.from_rows(rows).prepare()

    def bounded_again(*_):
        raise AssertionError("a prepared index bounded its groups again in a search")

    monkeypatch.setattr(fingerprint._Groups, "_bounded", bounded_again)
    for regional, matches in found.items():
        again = prepared.search(leaked, 25, k=256, regional=regional)
        assert matches and [m.source_id for m in matches] == [m.source_id for m in again]
        assert np.allclose([(m.offset, m.score) for m in matches], [(m.offset, m.score) for m in again])
    prepared.add("another", 0, rows[0][2])  # rows added since: the next search bounds the store again
    with pytest.raises(AssertionError, match="bounded its groups again"):
        prepared.search(leaked, 25)


def test_an_unmarked_copy_is_not_read_nor_retimed_against_a_bed_whose_picture_agrees_less(
    store, camera_frames, monkeypatch
):
    # Another bed of the same room resembles the copy at fingerprint size and is shortlisted beside its source; once
    # the source's picture agrees everywhere, the other bed agrees clearly less, so its time is never mapped.
    from cradle.media.trace import search

    references, _ = store
    bed = SimSettings(bed="bed-34", lang="en", seed=34, fps=FPS)
    references = {**references, **{("clip-34", s.index): decode(s.reference) for s in render(bed, frames(bed, 16))}}
    index = FingerprintIndex.from_rows(
        [(source, i, fingerprint_segment(images)) for (source, i), images in references.items()]
    )
    copy = leak(camera_frames[START:], 592, 444, 600_000, 0.02)
    shortlisted = {m.source_id for m in index.search(copy, 25, k=256)}
    assert shortlisted == {SOURCE, "clip-34"}
    mapped, real = [], search.map_time
    monkeypatch.setattr(search, "map_time", lambda frames, fps, shortlist, *rest: mapped.append(shortlist[0].source_id)
                        or real(frames, fps, shortlist, *rest))  # fmt: skip
    alignment, readings = trace(copy, 25, index, loader(references), KEY)
    assert alignment is not None and alignment.source_id == SOURCE
    assert readings and all(r.variant is None for r in readings)
    assert mapped == [SOURCE]
