"""HLS segments are 1 s of closed half-second GOPs (mark units) that play on their own, in two marked variants per
unit, joined as each viewer's choice says, and an unmarked reference."""

from __future__ import annotations

import io
import subprocess
import sys
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from cradle.media.errors import MediaError
from cradle.media.frames import Frame, SafeFrame
from cradle.media.hls import SegmentWriter, decode, reference_size, segments
from cradle.media.mark import MARK_UNITS, Variant, detect, psnr, unit_bounds
from cradle.media.sim import SimCamera, SimSettings

pytestmark = pytest.mark.nodb

KEY = bytes(range(100, 132))
FPS = 15


def _safe(camera: SimCamera, count: int, first: int = 0) -> list[SafeFrame]:
    return [
        SafeFrame(camera.frame(i).image, i, i * 1000, Fraction(1, FPS * 1000), 0.0, False)
        for i in range(first, first + count)
    ]


@pytest.fixture(scope="module")
def camera():
    return SimCamera(SimSettings(lang="zh", seed=8))


@pytest.fixture(scope="module")
def cut(camera):
    """Two and a third seconds of a bed, cut into segments starting at index 40."""
    frames = _safe(camera, 2 * FPS + 5)
    return frames, list(segments(frames, KEY, "cam-7", 640, 480, FPS, first_index=40))


def _packets(data: bytes):
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [(p.is_keyframe, p.pts) for p in container.demux(video=0) if p.size]


def test_segments_are_one_second_each_and_numbered(cut):
    _, found = cut
    assert [s.index for s in found] == [40, 41, 42]
    assert [s.frames for s in found] == [FPS, FPS, 5]
    assert [s.start for s in found] == [0, 90000, 180000]
    assert found[0].duration == pytest.approx(1.0)
    assert found[2].duration == pytest.approx(5 / FPS)


@pytest.mark.parametrize("part", ["a", "b", "AB", "BA", "reference"])
def test_every_file_starts_with_a_keyframe_and_decodes_alone(cut, part):
    _, found = cut
    for segment in found[:2]:
        if part == "reference":
            data = segment.reference
        else:
            data = segment.variant(part) if len(part) > 1 else getattr(segment, part)
        packets = _packets(data)
        assert len(packets) == FPS
        assert packets[0][0], "a segment must open with a keyframe"
        starts = [0] if part == "reference" else [first for first, _ in unit_bounds(FPS, MARK_UNITS)]
        assert [i for i, (key, _) in enumerate(packets) if key] == starts, "one GOP per mark unit"
        decoded = decode(data)
        assert len(decoded) == FPS
        expected = (640, 480) if part != "reference" else reference_size(640, 480)
        assert decoded[0].shape[1::-1] == expected


def test_timestamps_run_on_across_segments(cut):
    _, found = cut
    stamps = [pts for segment in found for _, pts in _packets(segment.a)]
    steps = np.diff(stamps)
    assert (steps == 90000 // FPS).all()


def test_variants_look_like_the_picture_and_differ_by_the_mark(cut):
    frames, found = cut
    a, b = decode(found[1].a), decode(found[1].b)
    originals = [f.image for f in frames[FPS : 2 * FPS]]
    assert min(psnr(x, y) for x, y in zip(a, originals, strict=True)) > 30  # the encoder's loss, not the mark's
    assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # A minus B is twice the mark: each unit correlates with the pattern of that unit of that segment.
    for unit, (first, end) in enumerate(unit_bounds(FPS, MARK_UNITS)):
        found_ab = detect(a[first:end], b[first:end], KEY, "cam-7", 41, registration=_identity, unit=unit)
        assert found_ab.variant is Variant.A
        other = detect(a[first:end], b[first:end], KEY, "cam-7", 41, registration=_identity, unit=1 - unit)
        assert other.variant is None


def test_a_viewers_segment_is_the_units_they_were_given(cut):
    _, found = cut
    segment = found[0]
    (a0, b0), (a1, b1) = segment.units
    assert segment.variant("AB") == a0 + b1
    assert segment.variant((Variant.B, Variant.A)) == b0 + a1
    assert segment.variant(Variant.A) == segment.a == a0 + a1
    assert set(segment.objects()) == {"A0", "B0", "A1", "B1", "ref"}
    with pytest.raises(ValueError):
        segment.variant("A")


def test_a_segment_of_one_unit_is_marked_whole_as_before_units(camera):
    (segment,) = segments(_safe(camera, FPS), KEY, "cam-7", 640, 480, FPS, first_index=5, units=1)
    assert set(segment.objects()) == {"A", "B", "ref"}
    a, b = decode(segment.a), decode(segment.b)
    assert detect(a, b, KEY, "cam-7", 5, registration=_identity).variant is Variant.A
    assert detect(a, b, KEY, "cam-7", 5, registration=_identity, unit=0).variant is None


def _identity(image, width, height):
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), None


def _leak(images, width=480, height=360, bitrate=300_000):
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def test_kept_reference_is_enough_to_trace_a_360p_300k_leak(cut):
    frames, found = cut
    references = [decode(segment.reference) for segment in found[:2]]
    for choice, sign in ((Variant.A, 1), (Variant.B, -1)):
        # Two seconds leaked as one re-encode, the way a copy is made.
        leaked = _leak([image for segment in found[:2] for image in decode(segment.variant(choice))])
        plain = _leak([f.image for f in frames[: 2 * FPS]])
        zs = []
        for number, segment in enumerate(found[:2]):
            for unit, (first, end) in enumerate(unit_bounds(FPS, MARK_UNITS)):
                part = slice(number * FPS + first, number * FPS + end)
                reference = references[number][first:end]
                zs.append(detect(leaked[part], reference, KEY, "cam-7", segment.index, unit=unit).z * sign)
                assert detect(plain[part], reference, KEY, "cam-7", segment.index, unit=unit).variant is None
        # The copy's first half second is its encoder's keyframe and rate-control start: a bit or an erasure there,
        # never the wrong bit; every later unit reads.
        assert zs[0] > -4
        assert min(zs[1:]) >= 4, zs


def test_writer_hands_out_segments_as_they_complete(camera):
    writer = SegmentWriter(KEY, "cam-7", 640, 480, FPS)
    done = [len(writer.write(frame)) for frame in _safe(camera, FPS + 1)]
    assert done == [0] * (FPS - 1) + [1, 0]
    assert [s.frames for s in writer.close()] == [1]
    assert writer.close() == []


def test_a_writer_encoding_in_the_background_hands_out_the_same_segments_in_order(camera):
    frames = _safe(camera, 3 * FPS + 2)
    writer = SegmentWriter(KEY, "cam-7", 640, 480, FPS, first_index=5, background=True)
    try:
        out = [segment for frame in frames for segment in writer.write(frame)]
        out += writer.close()
    finally:
        writer.stop()
    same = list(segments(frames, KEY, "cam-7", 640, 480, FPS, first_index=5))
    assert [s.index for s in out] == [5, 6, 7, 8]
    assert [s.objects() for s in out] == [s.objects() for s in same]
    assert [(s.start, s.frames) for s in out] == [(s.start, s.frames) for s in same]


def test_a_writer_whose_encodes_fall_behind_waits_rather_than_holding_ever_more_frames(camera, monkeypatch):
    import threading
    from concurrent import futures

    import cradle.media.hls as hls

    gate, waited = threading.Event(), threading.Event()
    encode, wait = SegmentWriter._encode, futures.wait
    held: list[int] = []

    def slow(self, frames, pts, index):
        gate.wait(60)
        return encode(self, frames, pts, index)

    def watched(pending, *args, **kwargs):
        held.append(len(writer._encoding))
        waited.set()
        return wait(pending, *args, **kwargs)

    monkeypatch.setattr(SegmentWriter, "_encode", slow)
    monkeypatch.setattr(hls.futures, "wait", watched)
    writer = SegmentWriter(KEY, "cam-7", 640, 480, FPS, background=True)
    fed: list[int] = []
    out: list = []

    def feed():
        for frame in _safe(camera, 4 * FPS):
            out.extend(writer.write(frame))
            fed.append(frame.index)
        out.extend(writer.close())

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        assert waited.wait(60)
        # The third second's frames are in, and its cut waits for the first second's encodes.
        assert held == [hls.ENCODING_AHEAD] and len(fed) == 3 * FPS - 1
    finally:
        gate.set()
        thread.join(60)
        writer.stop()
    assert [s.index for s in out] == [0, 1, 2, 3]


def test_repeated_pictures_are_marked_once_and_encode_to_the_same_bytes(camera, monkeypatch):
    import cradle.media.hls as hls

    # A camera redacting every 4th frame repeats its last safe picture in between: the same image, frame after frame.
    redacted = {i: camera.frame(i).image for i in range(0, FPS, 4)}
    shown = [redacted[i - i % 4] for i in range(FPS)]
    repeated = [SafeFrame(shown[i], i, i * 1000, Fraction(1, FPS * 1000), 0.0, False) for i in range(FPS)]
    copies = [SafeFrame(image.copy(), f.index, f.pts, f.time_base, 0.0, False) for image, f in zip(shown, repeated)]
    marked = []
    pair = hls.marked_pair

    def counted(image, mark, position):
        marked.append(position)
        return pair(image, mark, position)

    monkeypatch.setattr(hls, "marked_pair", counted)
    (once,) = segments(repeated, KEY, "cam-7", 640, 480, FPS)
    fewer = len(marked)
    marked.clear()
    (each,) = segments(copies, KEY, "cam-7", 640, 480, FPS)
    # Only pictures that differ from the frame before, or whose mark weight does, are marked again ...
    assert fewer < len(marked) == FPS
    # ... and every byte a viewer or a trace receives is what marking each frame afresh gives.
    assert once.objects() == each.objects()


def test_frames_without_timestamps_are_spaced_by_the_frame_rate(camera):
    frames = [SafeFrame(camera.frame(i).image, i, None, None, 0.0, False) for i in range(FPS)]
    (segment,) = segments(frames, KEY, "cam-7", 640, 480, FPS, first_index=3)
    assert [pts for _, pts in _packets(segment.a)] == [i * 6000 for i in range(FPS)]
    assert segment.start == 0


def test_raw_frames_are_refused(camera):
    writer = SegmentWriter(KEY, "cam-7", 640, 480, FPS)
    raw = Frame(camera.frame(0).image, 0)
    with pytest.raises(TypeError, match="SafeFrames"):
        writer.write(raw)


def test_odd_frame_sizes_are_refused_with_a_clear_error():
    with pytest.raises(MediaError, match="even"):
        SegmentWriter(KEY, "cam-7", 641, 480, FPS)


def test_damaged_segment_is_a_clear_error():
    with pytest.raises(MediaError, match="could not be decoded"):
        decode(b"\x00" * 1000)


def test_new_modules_import_no_django():
    code = "import sys\nimport cradle.media.mark, cradle.media.hls, cradle.media.store\n"
    code += "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
