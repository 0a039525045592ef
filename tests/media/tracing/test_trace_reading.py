"""Reading: the bits of a leaked copy come out as the leaker was served them; an unmarked copy reads as erasures."""

from __future__ import annotations

from dataclasses import replace

import av
import cv2
import pytest
from trace_support import FPS, KEY, LEAKER, SOURCE, START, leak, loader, readings

from cradle.media.encode import Mp4Writer
from cradle.media.fingerprint import FingerprintIndex, fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.mark import MARK_UNITS, Variant
from cradle.media.trace import locate, read_bits, trace
from cradle.media.trace.attribution import received
from cradle.media.trace.mapping import Piece
from cradle.media.trace.reading import units_read
from cradle.media.trace.registration import Registration
from cradle.media.visible import burn

pytestmark = pytest.mark.nodb


def test_the_leaked_copy_reads_the_leakers_bits(store, codewords, leaked):
    references, index = store
    alignment = locate(leaked, 25, index, loader(references))
    found = read_bits(leaked, 25, alignment, loader(references), KEY)
    assert trace(leaked, 25, index, loader(references), KEY)[1] == found
    read = [r for r in found if r.variant is not None]
    assert len(read) >= 15
    assert all(r.variant is received(codewords[LEAKER], r) for r in read)


def test_an_unmarked_copy_reads_as_erasures(clip, camera_frames, store):
    references, index = store
    unmarked = leak(camera_frames[: len(clip) * FPS], 480, 360, 300_000, 0.05)
    alignment = locate(unmarked, 25, index, loader(references))
    assert alignment is not None and alignment.source_id == SOURCE
    found = read_bits(unmarked, 25, alignment, loader(references), KEY)
    assert len(found) >= 15 and sum(r.variant is not None for r in found) <= 1


def test_brightened_30fps_copy_still_reads(store, codewords, served, clip):
    references, _ = store
    suspect = leak(served[: 6 * FPS], 426, 320, 250_000, 0.03, fps=30, gain=1.1, bias=-5)
    index = FingerprintIndex.from_rows(
        [(SOURCE, i, fingerprint_segment(references[(SOURCE, i)])) for i in range(len(clip))]
    )
    alignment = locate(suspect, 30, index, loader(references))
    assert alignment is not None
    read = [r for r in read_bits(suspect, 30, alignment, loader(references), KEY) if r.variant is not None]
    assert len(read) >= 5
    assert all(r.variant is received(codewords[LEAKER], r) for r in read)


def test_a_reading_names_its_bit_for_a_report_including_variant_a():
    a, b, erased = readings([Variant.A, Variant.B, None])
    assert (a.bit, b.bit, erased.bit) == ("A", "B", None)


def test_captions_and_stickers_over_part_of_the_picture_are_read_around(store, codewords, served):
    references, index = store
    copy = leak(served[START : START + 10 * FPS], 480, 360, 500_000, 0.0)
    covered = []
    for frame in copy:
        frame = frame.copy()
        frame[290:340, 20:460] = (30, 30, 30)  # a caption band
        cv2.circle(frame, (120, 110), 45, (40, 200, 250), -1)  # a sticker
        covered.append(frame)
    alignment, found = trace(covered, 25, index, loader(references), KEY)
    assert alignment is not None and alignment.hidden is not None
    # What is left out of the reading: the parts hidden, and any the framing cut away (the caption band may be framed
    # out, the sticker inside the picture then hidden).
    height, width = alignment.hidden.shape
    reached = Registration(alignment.homography, alignment.hidden).covered(
        alignment.framing.apply(covered[0]).shape, width, height
    )
    assert 0.05 < 1 - reached.mean() < 0.3
    read = [r for r in found if r.variant is not None]
    assert len(read) >= 7 and all(r.variant is received(codewords[LEAKER], r) for r in read)


def test_a_keepsake_with_its_burned_in_band_reads_every_unit(tmp_path, store, codewords, served):
    # A keepsake is the viewer's own variants re-encoded to MP4 with a translucent band and text along the bottom.
    # The band once swamped the residual: a 13 s keepsake read 1 segment. Now what a copy put over the picture is
    # left out of the reading, so every unit reads as it was served.
    references, index = store
    path = tmp_path / "keepsake.mp4"
    writer = Mp4Writer(path, 640, 480, FPS)
    for i, image in enumerate(served[: 13 * FPS]):
        writer.write(SafeFrame(burn(image, "Cradle QX4-M7B 2026-12-06"), i, None, None, 0.0, False))
    writer.close()
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    alignment, found = trace(frames, FPS, index, loader(references), KEY)
    assert alignment is not None and alignment.source_id == SOURCE
    read = [r for r in found if r.variant is not None]
    assert len(read) >= 24 and all(r.variant is received(codewords[LEAKER], r) for r in read)
    assert {r.units for r in read} == {MARK_UNITS}


def test_the_units_a_reading_reaches_are_known_before_it_reads(store, leaked):
    # A copy's pieces are left unread when they reach too few units to beat the copy read as it is; that count must be
    # exactly what the reading then reads, for the copy as it is and for a piece followed frame by frame alike.
    references, index = store
    alignment = locate(leaked, 25, index, loader(references))
    assert alignment is not None
    found = read_bits(leaked, 25, alignment, loader(references), KEY)
    assert units_read(len(leaked), 25, alignment, loader(references)) == {(r.index, r.unit) for r in found}
    shown = tuple(alignment.offset + t / 25 for t in range(len(leaked) // 2))
    piece = replace(alignment, piece=Piece(0.0, len(shown) / 25, 1.0, alignment.offset, shown), pace=FPS)
    found = read_bits(leaked, 25, piece, loader(references), KEY)
    assert len(found) >= 5
    assert units_read(len(leaked), 25, piece, loader(references)) == {(r.index, r.unit) for r in found}
