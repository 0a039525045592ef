"""A still of a stored segment: its first frame, scaled down, as JPEG (the ward board's small picture)."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np

from cradle.media.errors import MediaError


def first_frame(segment: bytes) -> np.ndarray:
    """The first picture of an MPEG-TS segment (BGR); MediaError when it holds none."""
    try:
        with av.open(io.BytesIO(segment), mode="r", format="mpegts") as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="bgr24")
    except (av.FFmpegError, IndexError, ValueError) as e:
        raise MediaError("The segment holds no readable picture.") from e
    raise MediaError("The segment holds no picture.")


def jpeg(image: np.ndarray, width: int = 320, quality: int = 75) -> bytes:
    """`image` scaled to `width` (its shape kept; never enlarged), as JPEG."""
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError("The still could not be encoded.")
    return data.tobytes()
