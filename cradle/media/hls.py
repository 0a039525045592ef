"""Cutting a camera's redacted output into 1 s HLS segments, each in two marked variants plus an unmarked reference.

A segment is MARK_UNITS units of half a second, and every unit in each variant is encoded by its own x264 instance,
so no frame can reference another unit: each unit starts with an IDR frame and is exactly one GOP long. A viewer's
segment is the byte concatenation of one variant of each unit (an MPEG-TS file may be cut and joined at packet
boundaries; each unit flags its first packets as a discontinuity so that a demuxer expects its counters to restart),
and plays on its own (hls.js takes plain MPEG-TS). Bytes stay in memory; the
caller encrypts them before anything touches a disk (cradle.media.store).
"""

from __future__ import annotations

import io
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import av
import cv2
import numpy as np

from cradle.media.encode import X264_CRF, X264_PARAMS, X264_PRESET
from cradle.media.errors import MediaError
from cradle.media.frames import SafeFrame, Screen
from cradle.media.mark import ALPHA, MARK_UNITS, SegmentMark, Variant, unit_bounds

# MPEG-TS counts in 90 kHz ticks; using its clock end to end keeps timestamps exact.
TS_TIME_BASE = Fraction(1, 90000)

# x264 settings for what viewers receive. They extend the MP4 preset in encode.py (same preset and quality) with a
# bitrate cap for phones on hospital Wi-Fi; they belong next to it once that file is free to change. No B-frames
# (timestamps out as they went in), one thread per encoder (cameras run in parallel, not frames), no scene-cut
# keyframes (the segment's first frame is its only IDR).
HLS_X264 = {
    "preset": X264_PRESET,
    "crf": X264_CRF,
    "x264-params": X264_PARAMS,
    "maxrate": "1500k",
    "bufsize": "3000k",
    "sc_threshold": "0",
    "threads": "1",
}

# The unmarked reference that leak tracing subtracts from a suspect copy. The mark lives in a 40×30 grid, i.e. below
# one cycle per 32 pixels at 640×480, so half the width and height keeps all of it, and suspects arrive at 240p-480p
# anyway; ORB registration still finds enough corners at that size. At the viewers' CRF the reference's own coding
# error stays far below the mark at those frequencies: on sim frames re-encoded at 360p/300 kbit/s, z was the same as
# with CRF 18 (15 vs 15.7) and higher than with raw frames (13), at about half the bytes of one variant and a quarter
# of its encoding time. Raw frames would be 14 times a variant's size; CRF 28 or 160×120 cost z (11-12, 8-13).
REFERENCE_SCALE = 0.5
REFERENCE_X264 = {**HLS_X264, "maxrate": "800k", "bufsize": "1600k"}

# Segments a writer encoding in the background holds cut and not yet encoded before `write` waits for the oldest.
ENCODING_AHEAD = 2


@dataclass(frozen=True, slots=True)
class Segment:
    """One second of one camera: both marked variants of each mark unit, and the unmarked reference of the whole
    second, each a complete MPEG-TS file."""

    index: int
    start: int  # pts of the first frame, in TS_TIME_BASE ticks
    duration: float  # seconds, for the playlist's EXTINF
    frames: int
    units: tuple[tuple[bytes, bytes], ...] = field(repr=False)  # per unit: variant A, variant B
    reference: bytes = field(repr=False)
    # Frames that are a privacy screen, and the commonest kind among them ("" when none): viewers are told why.
    screened: int = 0
    screen: str = ""

    @property
    def a(self) -> bytes:
        """The segment with variant A in every unit."""
        return self.variant("A" * len(self.units))

    @property
    def b(self) -> bytes:
        """The segment with variant B in every unit."""
        return self.variant("B" * len(self.units))

    def variant(self, choice: Variant | str | tuple[Variant, ...]) -> bytes:
        """The segment as a viewer with `choice` receives it: one variant for every unit, or a name such as "AB"
        (unit 0 variant A, unit 1 variant B), or a tuple of variants."""
        if isinstance(choice, Variant):
            choice = (choice,) * len(self.units)
        letters = [Variant[c] if isinstance(c, str) else c for c in choice]
        if len(letters) != len(self.units):
            raise ValueError(f"segment {self.index} has {len(self.units)} mark units, not {len(letters)}")
        return b"".join(pair[v] for pair, v in zip(self.units, letters, strict=True))

    def objects(self) -> dict[str, bytes]:
        """What is stored for the segment, by name: "A" and "B" for a segment of one unit, "A0", "B0", "A1", "B1"
        for two, and "ref" (see unit_objects)."""
        found = {"ref": self.reference}
        for unit, pair in enumerate(self.units):
            for variant in Variant:
                found[unit_object(variant, unit, len(self.units))] = pair[variant]
        return found


def unit_object(variant: Variant, unit: int, units: int) -> str:
    """The stored name of one variant of one mark unit ("A" or "B" when the segment is one unit)."""
    return variant.name if units == 1 else f"{variant.name}{unit}"


def reference_size(width: int, height: int) -> tuple[int, int]:
    """Width and height of the reference kept for a camera of width x height (even, as yuv420p needs)."""
    return max(2, round(width * REFERENCE_SCALE / 2) * 2), max(2, round(height * REFERENCE_SCALE / 2) * 2)


def marked_pair(image: np.ndarray, mark: SegmentMark, position: int) -> tuple[np.ndarray, np.ndarray]:
    """Variants A and B of one BGR frame as I420 planes (height*3/2 x width) for the encoder: one colour conversion
    for both, the mark on the Y rows only (written by the mark itself), the chroma rows copied."""
    height = image.shape[0]
    planes = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)
    a, b = np.empty_like(planes), np.empty_like(planes)
    mark.apply(planes[:height], position, Variant.A, out=a[:height])
    mark.apply(planes[:height], position, Variant.B, out=b[:height])
    a[height:] = b[height:] = planes[height:]
    return a, b


def reference_planes(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The unmarked reference's I420 planes of one BGR frame, shrunk to `size` (see reference_size)."""
    return cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)


def encode_ts(planes: list[np.ndarray], pts: list[int], width: int, height: int, fps: Fraction, options) -> bytes:
    """One closed GOP of I420 planes (height*3/2 x width, uint8) as MPEG-TS bytes that may follow another's."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mpegts", options={"mpegts_flags": "initial_discontinuity"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = TS_TIME_BASE
        stream.codec_context.time_base = TS_TIME_BASE
        stream.codec_context.max_b_frames = 0
        gop = str(len(planes))
        stream.options = {**options, "g": gop, "keyint_min": gop}
        for plane, stamp in zip(planes, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
            frame.pts = stamp
            frame.time_base = TS_TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


class SegmentWriter:
    """Collects safe frames and hands back a Segment for every `fps` of them.

    Marks go on the Y plane after one BGR→I420 conversion per frame: both variants share that conversion, and the
    encoder then takes the planes as they are.

    With `background`, each full segment is marked and encoded on a thread of the writer's own (x264 lets go of the
    interpreter lock), so the camera's thread goes on releasing frames meanwhile rather than stopping for a
    second's encodes at every cut (about 0.1 s at 640x480 and 0.3 s at 1280x720, most of the hold window); `write`
    then hands back the segments finished since, in order, and `close` waits for the rest. `stop` ends the thread.
    """

    def __init__(
        self,
        key: bytes,
        source_id: str,
        width: int,
        height: int,
        fps: float,
        first_index: int = 0,
        alpha: float = ALPHA,
        units: int = MARK_UNITS,
        background: bool = False,
    ) -> None:
        if width % 2 or height % 2:
            raise MediaError(f"HLS needs even frame sides; the camera gives {width}x{height}, so set an even size.")
        self._fps = Fraction(fps).limit_denominator(1001)
        self._per_segment = max(1, round(float(self._fps)))
        self._key, self._source = key, source_id
        self._size = (width, height)
        self._alpha = alpha
        self._units = units
        self._index = first_index
        self._frames: list[SafeFrame] = []
        self._written = 0
        self._encoder = ThreadPoolExecutor(1, thread_name_prefix=f"encode {source_id}") if background else None
        self._encoding: deque[Future[Segment]] = deque()  # segments cut, in order, finished or not

    @property
    def frames_per_segment(self) -> int:
        return self._per_segment

    def write(self, frame: SafeFrame) -> list[Segment]:
        """Add one frame; returns the segment it completes, if any."""
        if not isinstance(frame, SafeFrame):
            raise TypeError("only SafeFrames may be encoded; raw frames never leave the pipeline")
        if frame.image.shape[1::-1] != self._size:
            raise ValueError(f"frame is {frame.image.shape[1]}x{frame.image.shape[0]}, stream is {self._size}")
        self._frames.append(frame)
        if len(self._frames) >= self._per_segment:
            self._cut()
        return self._finished(wait=False)

    def close(self) -> list[Segment]:
        """The segments still to come: the last, shorter one if frames are left over (a clip's end)."""
        if self._frames:
            self._cut()
        return self._finished(wait=True)

    def stop(self) -> None:
        """Ends the background thread, dropping what it has not encoded yet (the stream is over)."""
        if self._encoder is not None:
            self._encoder.shutdown(wait=False, cancel_futures=True)

    def _finished(self, wait: bool) -> list[Segment]:
        out: list[Segment] = []
        while self._encoding and (wait or self._encoding[0].done()):
            out.append(self._encoding.popleft().result())
        return out

    def _pts(self, frame: SafeFrame, position: int) -> int:
        if frame.pts is not None and frame.time_base is not None:
            return round(frame.pts * frame.time_base / TS_TIME_BASE)
        return round((self._written + position) / self._fps / TS_TIME_BASE)

    def _cut(self) -> None:
        frames, self._frames = self._frames, []
        pts = [self._pts(frame, i) for i, frame in enumerate(frames)]
        index = self._index
        self._index += 1
        self._written += len(frames)
        if self._encoder is None:
            done: Future[Segment] = Future()
            done.set_result(self._encode(frames, pts, index))
            self._encoding.append(done)
        else:
            if len(self._encoding) >= ENCODING_AHEAD:
                # The encodes fall behind (an overloaded machine): the camera waits for the oldest rather than
                # holding ever more seconds of frames in memory.
                futures.wait([self._encoding[0]])
            self._encoding.append(self._encoder.submit(self._encode, frames, pts, index))

    def _encode(self, frames: list[SafeFrame], pts: list[int], index: int) -> Segment:
        width, height = self._size
        small = reference_size(width, height)
        reference: list[np.ndarray] = []
        units: list[tuple[bytes, bytes]] = []
        bounds = unit_bounds(len(frames), self._units)
        for unit, (first, end) in enumerate(bounds):
            label = None if len(bounds) == 1 else unit
            mark = SegmentMark(self._key, self._source, index, end - first, width, height, self._alpha, label)
            a: list[np.ndarray] = []
            b: list[np.ndarray] = []
            for i, frame in enumerate(frames[first:end]):
                # A repeat of the frame before (the last safe picture again while the camera redacts fewer frames,
                # or the privacy screen, one picture shared by every screened frame) with the mark at the same
                # weight gives the very same planes: they are used again, and x264 finds nothing changed in them.
                if i and frame.image is frames[first + i - 1].image and mark.weights[i] == mark.weights[i - 1]:
                    a.append(a[-1])
                    b.append(b[-1])
                else:
                    marked_a, marked_b = marked_pair(frame.image, mark, i)
                    a.append(marked_a)
                    b.append(marked_b)
                if reference and frame.image is frames[first + i - 1].image:
                    reference.append(reference[-1])
                else:
                    reference.append(reference_planes(frame.image, small))
            stamps = pts[first:end]
            units.append(
                (
                    encode_ts(a, stamps, width, height, self._fps, HLS_X264),
                    encode_ts(b, stamps, width, height, self._fps, HLS_X264),
                )
            )
        kinds = [str(frame.screen or Screen.CHECKING) for frame in frames if frame.screened]
        step = round(1 / self._fps / TS_TIME_BASE)
        duration = float((pts[-1] - pts[0] + step) * TS_TIME_BASE)
        return Segment(
            index=index,
            start=pts[0],
            duration=duration,
            frames=len(frames),
            units=tuple(units),
            reference=encode_ts(reference, pts, *small, self._fps, REFERENCE_X264),
            screened=len(kinds),
            screen=Counter(kinds).most_common(1)[0][0] if kinds else "",
        )


def segments(
    frames: Iterable[SafeFrame],
    key: bytes,
    source_id: str,
    width: int,
    height: int,
    fps: float,
    first_index: int = 0,
    alpha: float = ALPHA,
    units: int = MARK_UNITS,
) -> Iterator[Segment]:
    """The segments of a stream of safe frames, the last one possibly shorter."""
    writer = SegmentWriter(key, source_id, width, height, fps, first_index, alpha, units)
    for frame in frames:
        yield from writer.write(frame)
    yield from writer.close()


def decode(data: bytes) -> list[np.ndarray]:
    """The frames of one segment file as BGR images (for the reference, checks and tracing)."""
    try:
        with av.open(io.BytesIO(data), mode="r", format="mpegts") as container:
            return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    except av.FFmpegError as exc:
        raise MediaError(f"A segment could not be decoded ({exc}); it is damaged or not a Cradle segment.") from exc
