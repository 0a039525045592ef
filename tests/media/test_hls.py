"""HLS segments are closed 1 s GOPs that play on their own, in two marked variants and an unmarked reference."""

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
from cradle.media.mark import Variant, detect, psnr
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


@pytest.mark.parametrize("part", ["a", "b", "reference"])
def test_every_file_starts_with_a_keyframe_and_decodes_alone(cut, part):
    _, found = cut
    for segment in found[:2]:
        data = getattr(segment, part)
        packets = _packets(data)
        assert len(packets) == FPS
        assert packets[0][0], "a segment must open with a keyframe"
        assert not any(key for key, _ in packets[1:]), "one GOP per segment"
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
    # A minus B is twice the mark: it correlates with the pattern of that segment.
    found_ab = detect(a, b, KEY, "cam-7", 41, registration=_identity)
    assert found_ab.variant is Variant.A


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
    segment = found[0]
    reference = decode(segment.reference)
    a = detect(_leak(decode(segment.a)), reference, KEY, "cam-7", segment.index)
    b = detect(_leak(decode(segment.b)), reference, KEY, "cam-7", segment.index)
    plain = detect(_leak([f.image for f in frames[:FPS]]), reference, KEY, "cam-7", segment.index)
    assert a.variant is Variant.A and a.z >= 4
    assert b.variant is Variant.B and b.z <= -4
    assert plain.variant is None


def test_writer_hands_out_segments_as_they_complete(camera):
    writer = SegmentWriter(KEY, "cam-7", 640, 480, FPS)
    done = [len(writer.write(frame)) for frame in _safe(camera, FPS + 1)]
    assert done == [0] * (FPS - 1) + [1, 0]
    assert [s.frames for s in writer.close()] == [1]
    assert writer.close() == []


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
