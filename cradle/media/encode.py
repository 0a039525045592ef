"""H.264 encoding of safe frames into MP4; it refuses raw frames by type."""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cradle.media.frames import SafeFrame

# x264 settings in one place. veryfast: 3.7 ms a 640x480 frame at 420 kbit/s on these cores; ultrafast takes
# 1.8 ms but needs three times the bits, which every stored copy and every viewer pays for. One thread per
# encoder: cameras run in parallel, frames need not. No B-frames, so timestamps come out exactly as they went
# in; one keyframe a second and no scene-cut keyframes, for clean 1 s segments.
X264_PRESET = "veryfast"
X264_CRF = "23"
X264_THREADS = "1"
# On top of veryfast: a ward camera's picture barely moves, so the quarter-pel refinement (subme 1 instead of 2),
# the diamond motion search instead of the hexagon and whole-macroblock inter partitions cost CPU and buy nothing.
# On held-out simulated beds (bench/encode_options.py, seeds 11 and 12) an encode takes 44 % less CPU at 720p and
# 31 % less at 480p, for 3-4 % fewer bits and 0.14-0.20 dB less luma PSNR (about 41-42 dB). mbtree and its
# lookahead stay: without them the same CRF needs 2.7 times the bits.
X264_PARAMS = "subme=1:me=dia:partitions=none"


def x264_options(fps: float) -> dict[str, object]:
    """The libx264 options of one camera's stream at `fps`."""
    gop = str(max(1, round(fps)))
    return {
        "preset": X264_PRESET,
        "crf": X264_CRF,
        "x264-params": X264_PARAMS,
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": "0",
        "threads": X264_THREADS,
    }


class Mp4Writer:
    """Writes SafeFrames to an H.264 MP4 at their own timestamps."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, time_base: Fraction | None = None
    ) -> None:
        self._container = av.open(str(path), mode="w", format="mp4")
        self._fps = Fraction(fps).limit_denominator(1001)
        stream = self._container.add_stream("libx264", rate=self._fps)
        stream.width, stream.height = width, height
        # yuv420p needs even sides; odd-sized input keeps its size with 4:4:4.
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self._time_base = time_base or Fraction(1, 90000)
        stream.time_base = self._time_base
        stream.codec_context.time_base = self._time_base
        stream.codec_context.max_b_frames = 0
        stream.options = x264_options(float(self._fps))
        self._stream = stream
        self._size = (width, height)
        self._written = 0

    def write(self, frame: SafeFrame) -> None:
        """Encode one safe frame."""
        if not isinstance(frame, SafeFrame):
            raise TypeError("only SafeFrames may be encoded; raw frames never leave the pipeline")
        image = np.ascontiguousarray(frame.image)
        if image.shape[1::-1] != self._size:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, stream is {self._size[0]}x{self._size[1]}")
        video = av.VideoFrame.from_ndarray(image, format="bgr24")
        if frame.pts is not None and frame.time_base is not None:
            video.pts = round(frame.pts * frame.time_base / self._time_base)
        else:
            video.pts = round(self._written / self._fps / self._time_base)
        video.time_base = self._time_base
        for packet in self._stream.encode(video):
            self._container.mux(packet)
        self._written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Close without caring whether the file is complete (the caller deletes it)."""
        # The partial file is about to be removed, so a failure to close it cleanly does not matter.
        with contextlib.suppress(Exception):
            self._container.close()
