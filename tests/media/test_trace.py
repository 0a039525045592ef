"""Leak tracing finds the source of a re-encoded copy, reads its marks and names the leaking session, or nobody."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from cradle.media.drill import leaked_copy
from cradle.media.fingerprint import DIMENSIONS, FingerprintIndex, fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter, decode
from cradle.media.mark import Variant, luma
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.trace import (
    CandidateScore,
    SegmentReading,
    _agreed_offset,
    _misfit,
    attribute,
    combine,
    decide,
    innocent_probability,
    locate,
    read_bits,
    trace,
)

pytestmark = pytest.mark.nodb

KEY = bytes(range(32))
SOURCE = "clip-21"
FPS = 15
SECONDS = 16  # 15 readable bits are needed before 2^-n drops below 1e-4
SESSIONS = 10
LEAKER = "session-3"
START = 6  # the leak starts 6 camera frames (0.4 s) into the clip


def _frames(settings: SimSettings, seconds: int) -> list:
    camera = SimCamera(settings)
    return [camera.frame(i).image for i in range(seconds * FPS)]


def _render(settings: SimSettings, images: list) -> list:
    writer = SegmentWriter(KEY, f"clip-{settings.seed}", settings.width, settings.height, settings.fps)
    made = []
    for i, image in enumerate(images):
        frame = SafeFrame(image, i, i * 6000, Fraction(1, 90000), 0.0, False)
        made += writer.write(frame)
    return made + writer.close()


BED = SimSettings(bed="bed-3", lang="en", seed=21, fps=FPS)


@pytest.fixture(scope="module")
def camera_frames():
    """16 s of the simulated bed's camera, unmarked: what the clip is made from, and what an unmarked copy shows."""
    return _frames(BED, SECONDS)


@pytest.fixture(scope="module")
def clip(camera_frames):
    """A 16 s clip of a simulated bed at the camera's size: segments with both variants and the reference."""
    return _render(BED, camera_frames)


@pytest.fixture(scope="module")
def store(clip):
    """The reference frames by (source, segment), and a fingerprint index with decoys from 2,000 other segments."""
    references = {(SOURCE, segment.index): decode(segment.reference) for segment in clip}
    rows = [(source, index, fingerprint_segment(frames)) for (source, index), frames in references.items()]
    decoys = np.random.default_rng(5).normal(size=(2000, DIMENSIONS)).astype(np.float32)
    decoys /= np.linalg.norm(decoys, axis=1, keepdims=True)
    rows += [(f"decoy-{i // 30}", i % 30, vector.astype(np.float16)) for i, vector in enumerate(decoys)]
    return references, FingerprintIndex.from_rows(rows)


@pytest.fixture(scope="module")
def codewords(clip):
    """Ten sessions, each served its own random variant per segment."""
    rng = np.random.default_rng(8)
    return {
        f"session-{s}": {(SOURCE, segment.index): Variant(int(rng.integers(2))) for segment in clip}
        for s in range(SESSIONS)
    }


def leak(images, width, height, bitrate, crop, fps=25, gain=1.0, bias=0.0):
    """What a leaker does to frames of this clip (camera rate FPS)."""
    return leaked_copy(images, FPS, width, height, bitrate, crop, fps, gain, bias)


def _loader(references):
    return lambda source, index: references[(source, index)]


@pytest.fixture(scope="module")
def leaked(clip, codewords):
    """The leaker's copy, from 0.4 s on: 5 % cropped, 360p, 300 kbit/s, 25 fps."""
    served = [image for s in clip for image in decode(s.variant(codewords[LEAKER][(SOURCE, s.index)]))]
    return leak(served[START:], 480, 360, 300_000, 0.05)


def test_fingerprint_is_small_and_survives_a_leakers_reencode(clip, leaked):
    fingerprint = fingerprint_segment(decode(clip[5].reference))
    assert fingerprint.dtype == np.float16 and fingerprint.nbytes <= 1024
    # Segment 5 of the source starts 4.6 s into the leak (25 fps).
    start = round((5 - START / FPS) * 25)
    again = fingerprint_segment(leaked[start : start + 25]).astype(np.float32)
    assert float(again @ fingerprint.astype(np.float32)) > 0.95


def test_trace_finds_source_and_offset_reads_bits_and_names_the_leaker(store, codewords, leaked):
    references, index = store
    alignment = locate(leaked, 25, index, _loader(references))
    assert alignment is not None and alignment.source_id == SOURCE
    # Within one camera frame of the true 0.4 s (the encoder may hold back one frame of its own).
    assert abs(alignment.offset - START / FPS) <= 1.5 / FPS
    assert alignment.segment_at(2.0)[0] == 2

    readings = read_bits(leaked, 25, alignment, _loader(references), KEY)
    assert trace(leaked, 25, index, _loader(references), KEY)[1] == readings
    read = [r for r in readings if r.variant is not None]
    assert len(read) >= 15
    assert all(r.variant is codewords[LEAKER][(SOURCE, r.index)] for r in read)

    verdict = attribute(readings, codewords)
    assert verdict.outcome == "identified" and verdict.candidate == LEAKER
    assert verdict.ranking[0].probability < 1e-4
    assert all(score.probability > 1e-3 for score in verdict.ranking[1:])


def test_unmarked_copy_names_nobody(clip, camera_frames, store, codewords):
    references, index = store
    unmarked = leak(camera_frames[: len(clip) * FPS], 480, 360, 300_000, 0.05)
    alignment = locate(unmarked, 25, index, _loader(references))
    assert alignment is not None and alignment.source_id == SOURCE
    readings = read_bits(unmarked, 25, alignment, _loader(references), KEY)
    assert len(readings) >= 15 and sum(r.variant is not None for r in readings) <= 1
    verdict = attribute(readings, codewords)
    assert verdict.outcome == "inconclusive" and verdict.candidate is None
    assert "too few readable segments" in verdict.reason


def test_unrelated_scene_has_no_matching_source(store):
    references, index = store
    # Another bed, straight from its camera: whether it also carried some clip's mark does not matter, as the
    # picture (another card, another baby) is what rejects it, before any mark is read.
    other = _frames(SimSettings(bed="bed-7", lang="zh", seed=5, fps=FPS), 6)
    suspect = leak(other, 480, 360, 400_000, 0.0)
    assert locate(suspect, 25, index, _loader(references)) is None
    assert trace(suspect, 25, index, _loader(references), KEY) == (None, [])


def test_bad_input_finds_no_source(store):
    references, index = store
    assert trace([], 25, index, _loader(references), KEY) == (None, [])
    grey = [np.full((240, 320, 3), 128, np.uint8)] * 50
    assert trace(grey, 25, index, _loader(references), KEY) == (None, [])


def test_brightened_30fps_copy_still_reads(store, codewords, clip):
    references, _ = store
    served = [image for s in clip[:6] for image in decode(s.variant(codewords[LEAKER][(SOURCE, s.index)]))]
    suspect = leak(served, 426, 320, 250_000, 0.03, fps=30, gain=1.1, bias=-5)
    index = FingerprintIndex.from_rows(
        [(SOURCE, i, fingerprint_segment(references[(SOURCE, i)])) for i in range(len(clip))]
    )
    alignment = locate(suspect, 30, index, _loader(references))
    assert alignment is not None
    read = [r for r in read_bits(suspect, 30, alignment, _loader(references), KEY) if r.variant is not None]
    assert len(read) >= 5
    assert all(r.variant is codewords[LEAKER][(SOURCE, r.index)] for r in read)


def test_a_registration_a_pixel_off_still_finds_the_exact_camera_frame(store, leaked):
    """A pixel off, the camera's shake makes a frame two away look closest; the shift the pairs agree on undoes it."""
    references, _ = store
    images = [image for i in range(SECONDS) for image in references[(SOURCE, i)]]
    times = np.arange(len(images)) / FPS
    samples = np.array([40, 180, 330])  # suspect frames (25 fps)
    scale = (640 - 2 * 16) / 480 / 2  # a 5 % crop of 640x480 shown at 480x360, against the half-size reference
    true = np.array([[scale, 0, (16 + scale) / 2 - 0.5], [0, scale, (12 + scale) / 2 - 0.5], [0, 0, 1]])
    off = true + np.array([[0, 0, 1.2], [0, 0, -0.9], [0, 0, 0]])
    wrong = START / FPS + 2 / FPS

    def nearest(offset):
        return np.abs(times[None, :] - (samples / 25 + offset)[:, None]).argmin(axis=1)

    suspects = [leaked[i] for i in samples]
    offset, picked, homography = _agreed_offset(
        suspects, samples / 25, times, images, off, wrong + np.arange(-6, 7) * 0.5 / FPS, wrong, nearest(wrong)
    )
    assert abs(offset - START / FPS) <= 0.5 / FPS and list(picked) == list(nearest(offset))
    pairs = [(luma(s), luma(images[r])) for s, r in zip(suspects, picked, strict=True)]
    assert _misfit(pairs, homography) < _misfit(pairs, off)


def test_innocent_probability_is_the_exact_binomial_tail():
    assert innocent_probability(15, 15) == 2**-15
    assert innocent_probability(10, 8) == (45 + 10 + 1) / 1024
    assert innocent_probability(0, 0) == 1.0
    with pytest.raises(ValueError):
        innocent_probability(5, 6)


def _readings(bits: list[Variant | None], source: str = SOURCE) -> list[SegmentReading]:
    z = {Variant.A: 9.0, Variant.B: -9.0, None: 1.0}
    return [SegmentReading(source, i, z[bit], float(i), 1.0) for i, bit in enumerate(bits)]


def test_verdict_needs_enough_readable_segments():
    bits = [Variant.A] * 10 + [None] * 6
    verdict = attribute(_readings(bits), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    assert verdict.outcome == "inconclusive" and "too few readable segments" in verdict.reason


def test_two_candidates_with_the_same_codeword_are_never_named():
    codeword = {(SOURCE, i): Variant(i % 2) for i in range(16)}
    verdict = attribute(_readings([Variant(i % 2) for i in range(16)]), {"s1": codeword, "s2": dict(codeword)})
    assert verdict.outcome == "inconclusive" and "two candidates" in verdict.reason


def test_no_candidate_is_inconclusive():
    verdict = attribute(_readings([Variant.A] * 16), {})
    assert verdict.outcome == "inconclusive" and verdict.reason.startswith("no candidate")


def test_a_segment_the_candidate_never_fetched_counts_against_it():
    codeword = {(SOURCE, i): Variant.A for i in range(8)}
    (score,) = attribute(_readings([Variant.A] * 16), {"s1": codeword}).ranking
    assert (score.readable, score.matches) == (16, 8)


def test_evidence_of_several_suspects_adds_up_per_account():
    # Two 8-segment leaks: neither names anyone alone; together 16 of 16 do.
    first = [CandidateScore("alice", 8, 8, innocent_probability(8, 8)), CandidateScore("bob", 8, 4, 0.64)]
    second = [CandidateScore("alice", 8, 8, innocent_probability(8, 8)), CandidateScore("bob", 8, 3, 0.86)]
    assert decide(first).outcome == "inconclusive"
    verdict = decide(combine([first, second]))
    assert verdict.outcome == "identified" and verdict.candidate == "alice"
    assert verdict.ranking[0].probability == 2**-16


def test_a_reading_names_its_bit_for_a_report_including_variant_a():
    a, b, erased = _readings([Variant.A, Variant.B, None])
    assert (a.bit, b.bit, erased.bit) == ("A", "B", None)


def test_the_reason_comes_with_a_code_and_numbers_a_report_can_translate():
    verdict = attribute(_readings([Variant.A] * 10 + [None] * 6), {"s1": {(SOURCE, i): Variant.A for i in range(16)}})
    assert (verdict.reason_code, dict(verdict.reason_args)) == ("too_few", {"readable": 10, "needed": 14})
