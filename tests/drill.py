"""Leak drills: what a leaker's tools do to a copy, so that tests and benchmarks of tracing start from the same one."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction

import av
import cv2
import numpy as np


def leaked_copy(
    images: Sequence[np.ndarray],
    source_fps: float,
    width: int,
    height: int,
    bitrate: int,
    crop: float = 0.0,
    fps: float | None = None,
    gain: float = 1.0,
    bias: float = 0.0,
) -> list[np.ndarray]:
    """Crop a share of the picture, change brightness, scale, convert the frame rate, re-encode and decode again."""
    fps = fps or source_fps
    count = int(len(images) / source_fps * fps)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        for i in range(count):
            image = images[min(len(images) - 1, int(i * source_fps / fps + 1e-9))]
            h, w = image.shape[:2]
            dx, dy = round(w * crop / 2), round(h * crop / 2)
            image = cv2.resize(image[dy : h - dy, dx : w - dx], (width, height), interpolation=cv2.INTER_AREA)
            if gain != 1.0 or bias:
                image = cv2.convertScaleAbs(image, alpha=gain, beta=bias)
            frame = av.VideoFrame.from_ndarray(np.asarray(image, np.uint8), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, round(fps))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def mp4_bytes(images: Sequence[np.ndarray], fps: int = 25) -> bytes:
    """The frames as a good-quality H.264 MP4 file, as a suspect clip would be handed over."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.asarray(image, np.uint8), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
